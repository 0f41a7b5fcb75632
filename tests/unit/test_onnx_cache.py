"""The cache of ONNX exports (`vectorstore.onnx.cache.ensure_export`), with a build that writes
small files in place of the model: made once and reused, a broken or killed export redone, a
failed one leaving nothing, a second process waiting for the first. The real export, made once
per session, is in tests/integration/test_onnx_embedder.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from tests.conftest import ROOT
from vectorstore import EmbedderError
from vectorstore.onnx import cache
from vectorstore.onnx.cache import (
    CACHE_FORMAT,
    META_FILE,
    MODEL_FILE,
    PARTIAL_MARK,
    TOKENIZER_FILE,
    ensure_export,
    is_complete,
)

pytestmark = pytest.mark.unit

KEY = "model-int8-0123456789ab"
SOURCE = Path("/models/model")

# A second process exporting argv[2] into argv[1]: it writes the model, then waits argv[3]
# seconds before returning, so that the test can act while it holds the lock.
EXPORTER = """
import sys, time
from pathlib import Path
from vectorstore.onnx.cache import CACHE_FORMAT, ensure_export

def build(target):
    (target / "model.onnx").write_bytes(b"other process")
    (target / "tokenizer.json").write_text("{}")
    time.sleep(float(sys.argv[3]))
    return {"format": CACHE_FORMAT, "model_bytes": len(b"other process"), "by": "other"}

ensure_export(Path(sys.argv[1]), sys.argv[2], build, Path("/models/model"), "int8")
"""


class Build:
    """A build that writes a stand-in export and counts its calls."""

    def __init__(self, model: bytes = b"onnx graph", fail: BaseException | None = None) -> None:
        self.model = model
        self.fail = fail
        self.calls = 0

    def __call__(self, target: Path) -> dict[str, Any]:
        self.calls += 1
        assert not any(target.iterdir()), "the build gets an empty folder"
        (target / MODEL_FILE).write_bytes(self.model)
        if self.fail is not None:
            raise self.fail
        (target / TOKENIZER_FILE).write_text("{}", encoding="utf-8")
        return {"format": CACHE_FORMAT, "model_bytes": len(self.model)}


def _export(cache_dir: Path, build: Callable[[Path], dict[str, Any]]) -> tuple[Path, float | None]:
    return ensure_export(cache_dir, KEY, build, SOURCE, "int8")


def _entries(cache_dir: Path) -> list[str]:
    """What the cache folder holds, lock files left out."""
    return sorted(p.name for p in cache_dir.iterdir() if not p.name.endswith(".lock"))


def _exporter(cache_dir: Path, hold_s: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", EXPORTER, str(cache_dir), KEY, str(hold_s)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _partial_with_model(cache_dir: Path, process: subprocess.Popen[bytes]) -> Path:
    """The other process's export folder, once its model file is written."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for partial in cache_dir.glob(f".{KEY}{PARTIAL_MARK}*"):
            if (partial / TOKENIZER_FILE).exists():
                return partial
        if process.poll() is not None:
            raise AssertionError(process.stderr.read() if process.stderr else "exited")
        time.sleep(0.02)
    raise AssertionError("the other process never started its export")


def test_the_export_is_made_once_and_then_reused(tmp_path: Path) -> None:
    build = Build()
    folder, seconds = _export(tmp_path, build)
    assert folder == tmp_path / KEY and seconds is not None
    assert is_complete(folder)
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    assert meta["export_seconds"] == round(seconds, 2)
    again, seconds_again = _export(tmp_path, build)
    assert (again, seconds_again) == (folder, None)
    assert build.calls == 1
    assert _entries(tmp_path) == [KEY]


@pytest.mark.parametrize(
    "damage",
    ["model cut short", "no metadata", "metadata not JSON", "older format", "no tokenizer"],
)
def test_a_broken_export_folder_is_not_used_and_is_redone(tmp_path: Path, damage: str) -> None:
    folder, _ = _export(tmp_path, Build())
    if damage == "model cut short":  # as if a copy of the folder had stopped midway
        with (folder / MODEL_FILE).open("r+b") as handle:
            handle.truncate(3)
    elif damage == "no metadata":
        (folder / META_FILE).unlink()
    elif damage == "metadata not JSON":
        (folder / META_FILE).write_text("{", encoding="utf-8")
    elif damage == "older format":
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        (folder / META_FILE).write_text(json.dumps({**meta, "format": CACHE_FORMAT - 1}))
    else:
        (folder / TOKENIZER_FILE).unlink()
    assert not is_complete(folder)
    build = Build(b"a fresh export")
    again, seconds = _export(tmp_path, build)
    assert again == folder and seconds is not None and build.calls == 1
    assert is_complete(folder) and (folder / MODEL_FILE).read_bytes() == b"a fresh export"


def test_a_failed_export_leaves_nothing_and_the_next_one_succeeds(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="the exporter broke"):
        _export(tmp_path, Build(fail=RuntimeError("the exporter broke")))
    assert _entries(tmp_path) == []
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C during the export: the same
        _export(tmp_path, Build(fail=KeyboardInterrupt()))
    assert _entries(tmp_path) == []
    folder, seconds = _export(tmp_path, Build())
    assert is_complete(folder) and seconds is not None


def test_a_killed_export_is_never_used_and_its_leftover_is_removed(tmp_path: Path) -> None:
    process = _exporter(tmp_path, hold_s=60)
    partial = _partial_with_model(tmp_path, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert _entries(tmp_path) == [partial.name]  # only the hidden leftover, no KEY folder
    build = Build()
    folder, seconds = _export(tmp_path, build)
    assert seconds is not None and build.calls == 1
    assert not partial.exists()
    assert _entries(tmp_path) == [KEY] and is_complete(folder)


def test_a_second_process_waits_for_the_export_instead_of_making_its_own(tmp_path: Path) -> None:
    process = _exporter(tmp_path, hold_s=1.0)
    _partial_with_model(tmp_path, process)  # it holds the lock and is exporting
    build = Build()
    folder, seconds = _export(tmp_path, build)  # blocks on the lock until that export is done
    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    assert build.calls == 0 and seconds is None
    assert json.loads((folder / META_FILE).read_text(encoding="utf-8"))["by"] == "other"
    assert _entries(tmp_path) == [KEY]


def test_a_lock_held_too_long_is_an_error_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "LOCK_TIMEOUT_S", 0.2)
    build = Build()
    stuck = FileLock(str(tmp_path / f"{KEY}.lock"))  # another holder, stuck
    with stuck, pytest.raises(EmbedderError, match=rf"another process exporting .*{KEY}"):
        _export(tmp_path, build)
    assert build.calls == 0 and _entries(tmp_path) == []


def test_a_cache_folder_that_cannot_be_made_is_an_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    with pytest.raises(EmbedderError, match=r"Cannot write the ONNX export .*not-a-folder"):
        _export(blocker / "cache", Build())
