"""Where runtime data lives by default, and the one-time move from the old place.

Runtime data (the index, the embedder's ONNX cache, the benchmarks' vector cache) lives in a
git-ignored top-level ``data/`` folder. Before, the default index folder was
``vectorstore/data/``, inside a code package, with the embedder cache and the benchmarks'
cache inside it. `migrate_old_layout` moves such an old index to the new default place the
first time settings are loaded with the default paths; `kbchat.settings_loading.load_settings`
calls it, so the CLI, watch mode and the UI all go through it.

A move is one ``os.rename`` of a folder: atomic on one filesystem, so a second process either
finds the old folder still in place or the new one complete. When the rename fails for any
other reason than a concurrent move (another filesystem, no permission), nothing is copied:
the old folder stays as it is and the error says what to do.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from kbchat.errors import ConfigError

DEFAULT_INDEX_DIR = Path("data/index")
DEFAULT_EMBEDDING_CACHE_DIR = Path("data/embedder-cache")
BENCH_CACHE_DIR = Path("data/bench-cache")

OLD_INDEX_DIR = Path("vectorstore/data")
OLD_EMBEDDING_CACHE_DIR = OLD_INDEX_DIR / "embedder-cache"
OLD_BENCH_CACHE_DIR = OLD_INDEX_DIR / "bench-cache"

INDEX_MARKERS = (
    "manifest.sqlite3",  # kbchat.knowledge.manifest_for
    "keyword.sqlite3",  # vectorstore.index.KnowledgeIndex
    "chroma",  # embedded Chroma under the index folder
    "index_info.json",  # vectorstore.index.INFO_FILE
    "ledger.sqlite3",  # kbchat.ledger
    "audit.sqlite3",  # kbchat.audit
    "admin_settings.json",  # kbchat.overrides
)
"""Names of which one in a folder makes it a kbchat index folder."""

_LOG = logging.getLogger(__name__)
_settled: set[tuple[Path, Path]] = set()
"""(index folder, embedder cache) pairs, resolved, already checked by this process."""


class DataMigrationError(ConfigError):
    """An index (or cache) at the old default place could not be moved to the new one."""

    def __init__(self, old: Path, new: Path, err: OSError, otherwise: str) -> None:
        super().__init__(
            f"Could not move {old} to {new} (the new default place of kbchat's data): "
            f"{err.strerror or err}. Nothing was moved or copied; {old} is intact. Move it "
            f"yourself (`mv {old} {new}`, or copy it and then delete {old}), or {otherwise}."
        )


def looks_like_index(folder: Path) -> bool:
    """Whether ``folder`` holds a kbchat index (its manifest, keyword index, Chroma, ledger…)."""
    return folder.is_dir() and any((folder / name).exists() for name in INDEX_MARKERS)


def migrate_old_layout(index_dir: Path, embedding_cache_dir: Path) -> None:
    """Move an index (and caches) from ``vectorstore/data`` to ``data/``, once, if defaulted.

    Acts only for the settings' default values (``data/index``, ``data/embedder-cache``),
    relative to the working directory as they are; an index folder set to anything else is
    used where it is and nothing moves. Each folder moves only when its new place does not
    exist yet. When both the old and the new index exist, the new one is used and a warning
    names the old one, which is left untouched.

    Args:
        index_dir: the configured index folder (``KBCHAT_INDEX_DIR``).
        embedding_cache_dir: the configured embedder cache (``KBCHAT_EMBEDDING_CACHE_DIR``).

    Raises:
        DataMigrationError: a rename failed (another filesystem, permissions); the old folder
            is left where it was.
    """
    key = (index_dir.resolve(), embedding_cache_dir.resolve())
    if key in _settled:
        return
    if embedding_cache_dir == DEFAULT_EMBEDDING_CACHE_DIR:
        _move(
            OLD_EMBEDDING_CACHE_DIR,
            DEFAULT_EMBEDDING_CACHE_DIR,
            "delete it (a cache: the embedding model is exported again on first use)",
        )
    if index_dir == DEFAULT_INDEX_DIR:
        # The benchmarks' cache has its own place under data/, beside the index; failing to
        # move it stops nothing (the index's move below says why, if it fails too).
        try:
            _move(OLD_BENCH_CACHE_DIR, BENCH_CACHE_DIR, "delete it (a cache)")
        except DataMigrationError as err:
            _LOG.warning("%s", err)
        _move_index()
    _settled.add(key)


def _move_index() -> None:
    old, new = OLD_INDEX_DIR, DEFAULT_INDEX_DIR
    if not looks_like_index(old):
        return
    keep = f"set KBCHAT_INDEX_DIR={old} to keep using it where it is"
    moved = not new.exists() and _move(old, new, keep)
    if not moved and looks_like_index(old):  # the new place was there first
        _LOG.warning(
            "An index is in both %s (the old default place) and %s: using %s; %s is left as "
            "it is (delete it, or set KBCHAT_INDEX_DIR=%s to use it instead)",
            old.absolute(),
            new.absolute(),
            new.absolute(),
            old.absolute(),
            old,
        )


def _move(old: Path, new: Path, otherwise: str) -> bool:
    """Rename ``old`` to ``new`` if ``old`` exists and ``new`` does not; whether it moved.

    Losing a race to another process doing the same move is not an error: the other one
    moved it (or made ``new``), and this one leaves both as they are.
    """
    if not old.is_dir() or new.exists():
        return False
    try:
        new.parent.mkdir(parents=True, exist_ok=True)
        # rename, not replace: it never overwrites a folder with something in it.
        os.rename(old, new)
    except OSError as err:
        if new.exists():  # another process moved it, or made the new folder, first
            return False
        if not old.exists():  # gone, and not here: nothing of ours to keep safe
            return False
        raise DataMigrationError(old.absolute(), new.absolute(), err, otherwise) from err
    _LOG.warning(
        "Moved %s to %s (kbchat's data now lives in data/)", old.absolute(), new.absolute()
    )
    return True
