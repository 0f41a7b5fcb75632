"""One ingestion at a time per index: an OS file lock, released even if the process dies."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout


class IngestLockedError(RuntimeError):
    """Another ingestion is running on the same index."""


def _holder(info_path: Path) -> str:
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        started = time.strftime("%H:%M:%S", time.localtime(float(info["started"])))
        return f" (process {info['pid']}, started at {started})"
    except (OSError, ValueError, KeyError):
        return ""


@contextmanager
def ingest_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's ingestion lock for the duration of the block.

    Raises:
        IngestLockedError: another ingestion holds it; the message says which process.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(index_dir / "ingest.lock"))
    info_path = index_dir / "ingest.lock.json"
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise IngestLockedError(
            f"Another ingestion is running on {index_dir}{_holder(info_path)}: "
            "wait for it to finish, then run again."
        ) from None
    try:
        info_path.write_text(
            json.dumps({"pid": os.getpid(), "started": time.time()}), encoding="utf-8"
        )
        yield
    finally:
        info_path.unlink(missing_ok=True)
        lock.release()


def ingest_running(index_dir: Path) -> bool:
    """Whether an ingestion currently holds the lock."""
    lock = FileLock(str(index_dir / "ingest.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False
