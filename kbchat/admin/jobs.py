"""The admin page's background re-ingest: at most one run per index, that others can watch.

- `start_reingest` runs `kbchat.ingestion.tracked_ingest` in one thread of the server
  process. A second start while one runs is refused with `JobRunningError`; a run of another
  process is refused too (by its status file, and in the end by the ingestion lock). It
  returns only once the run holds the ingestion lock: a run that cannot start (another process
  holds the lock) or fails at once raises `JobFailedError` with the reason, so no caller ever
  reports "started" for a run that did not.
- `current_job` is what the page shows: this process's run, or the newer one in the status
  file (any run: admin page, command line, watch mode).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import replace
from pathlib import Path

from ingest.sync import Progress
from kbchat.errors import KbchatError
from kbchat.ingestion import JobStatus, StatusTracker, read_status, tracked_ingest
from kbchat.settings import Settings

logger = logging.getLogger(__name__)

UNEXPECTED = "The ingestion failed unexpectedly; the details are in the server log."


class JobRunningError(KbchatError):
    """An ingestion is already running; the message says which one."""


class JobFailedError(KbchatError):
    """The background run could not start, or failed at once; the message says why."""


START_WAIT_S = 15.0  # longest wait in `start_reingest` for the run to take the lock


class _Runner:
    """The admin page's background run on one index (at most one at a time)."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.tracker: StatusTracker | None = None
        self.status: JobStatus | None = None  # before the tracker exists, or after a refusal
        self.started = threading.Event()  # set once the run holds the lock, or has ended

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def current(self) -> JobStatus | None:
        return self.tracker.status if self.tracker is not None else self.status


_runners: dict[Path, _Runner] = {}
_registry_lock = threading.Lock()


def _refusal(status: JobStatus) -> str:
    started = status.started_at[11:16] if len(status.started_at) >= 16 else status.started_at
    where = f", {status.done} of {status.total} files" if status.total else ""
    return (
        f"A re-ingestion is already running (started from the {status.origin} at {started} "
        f"UTC; {status.phase}{where}): wait for it to finish, then start another."
    )


def start_reingest(
    settings: Settings,
    *,
    full: bool = False,
    user: str | None = None,
    wait_s: float = START_WAIT_S,
) -> JobStatus:
    """Start a re-ingestion in a background thread of this process.

    Waits (at most ``wait_s``) until the run holds the ingestion lock, so that a run that
    cannot start is reported as such, never as started.

    Returns:
        Its status once it runs (or has already finished).

    Raises:
        JobRunningError: a run is already going (in this process or another); nothing starts.
        JobFailedError: the run could not start (another process holds the ingestion lock)
            or failed at once; the message says why.
    """
    key = settings.paths.index_dir.resolve()
    with _registry_lock:
        runner = _runners.setdefault(key, _Runner())
        current = runner.current()
        if runner.alive and current is not None:
            raise JobRunningError(_refusal(current))
        other = read_status(settings)
        if other is not None and other.running and other.pid != os.getpid():
            raise JobRunningError(_refusal(other))
        runner.tracker = None
        runner.status = JobStatus.starting("admin page", user, full)
        runner.started = started = threading.Event()
        runner.thread = threading.Thread(
            target=_run, args=(runner, settings, full, user), name="kbchat-reingest", daemon=True
        )
        runner.thread.start()
    started.wait(wait_s)
    status = runner.current() or runner.status
    if status.state in ("failed", "interrupted"):
        raise JobFailedError(
            f"The re-ingest did not start: {status.error or 'no reason was given'}"
        )
    return status


def _run(runner: _Runner, settings: Settings, full: bool, user: str | None) -> None:
    started = runner.started

    def keep(tracker: StatusTracker) -> None:
        runner.tracker = tracker

    def running(_progress: Progress) -> None:
        started.set()  # progress comes only from a run that holds the lock

    try:
        tracked_ingest(
            settings, full=full, progress=running, origin="admin page", user=user, on_status=keep
        )
    except KbchatError:
        pass  # the tracker holds the message
    except Exception:
        logger.exception("The background re-ingestion failed")
        if runner.tracker is not None:
            runner.tracker.finish(state="failed", error=UNEXPECTED)
    finally:
        started.set()


def current_job(settings: Settings) -> JobStatus | None:
    """The run to show: this process's, or the newer one in the status file (None: no run)."""
    runner = _runners.get(settings.paths.index_dir.resolve())
    mine = runner.current() if runner is not None else None
    if mine is not None and mine.running and runner is not None and not runner.alive:
        mine = replace(mine, state="interrupted", error="The run stopped before it finished.")
    other = read_status(settings)
    if mine is None:
        return other
    if other is None or other.pid == os.getpid():
        return mine
    return other if other.started_at > mine.started_at else mine


def wait_for_job(settings: Settings, timeout_s: float = 600) -> JobStatus | None:
    """Block until this process's background run has finished (for tests and scripts)."""
    runner = _runners.get(settings.paths.index_dir.resolve())
    if runner is not None and runner.thread is not None:
        runner.thread.join(timeout_s)
    return current_job(settings)
