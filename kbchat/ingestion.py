"""Ingestion's entry point: `run_ingest` with its status in a file, and audited.

The command line (``kbchat ingest``, ``--watch``), watch mode and the admin page's background
job all ingest through `tracked_ingest`, so every run shows on the admin page and is audited
the same way.

- `tracked_ingest` is `run_ingest` that writes its progress and outcome to
  ``<index>/ingest_status.json``: once it holds the ingestion lock (so a refused run never
  overwrites the status of the one that runs), throttled, atomically.
- `read_status` reads that file back: a page reloaded during a run finds it there, and a run
  whose process is gone reads as "interrupted".
- `summary` is the one-line account of a finished run that the terminal prints.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ingest.loaders import NO_TEXT
from ingest.sync import IngestReport, Progress, ProgressCallback
from kbchat.audit import audit_for
from kbchat.clock import now_iso
from kbchat.errors import IngestBusyError, KbchatError
from kbchat.knowledge import manifest_for, run_ingest
from kbchat.settings import Settings

logger = logging.getLogger(__name__)

STATUS_FILE = "ingest_status.json"
WRITE_EVERY_S = 0.3

State = Literal["running", "done", "failed", "interrupted"]


@dataclass(frozen=True)
class JobStatus:
    """Where an ingestion run is, or how it ended."""

    state: State
    origin: str
    """Who started it: "admin page", "command line", "watch"."""
    started_at: str
    pid: int = field(default_factory=os.getpid)
    user: str | None = None
    full: bool = False
    phase: str = "starting"
    done: int = 0
    total: int = 0
    current: str = ""
    updated_at: str = field(default_factory=now_iso)
    finished_at: str | None = None
    report: dict[str, Any] | None = None
    files: dict[str, list[str]] | None = None
    """Per file: the paths "added", "updated" and "removed" by the run."""
    error: str | None = None

    @property
    def running(self) -> bool:
        """Whether the run is still going."""
        return self.state == "running"

    @property
    def fraction(self) -> float:
        """How far the current phase is, 0 to 1."""
        if self.state != "running":
            return 1.0
        return min(1.0, self.done / self.total) if self.total else 0.0

    @classmethod
    def starting(cls, origin: str, user: str | None, full: bool) -> JobStatus:
        """A run that starts now."""
        return cls(state="running", origin=origin, started_at=now_iso(), user=user, full=full)

    def to_dict(self) -> dict[str, Any]:
        """As plain data (the status file)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobStatus:
        """From the status file; raises ``TypeError``/``ValueError`` when it does not fit."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        status = cls(**known)
        if status.state not in ("running", "done", "failed", "interrupted"):
            raise ValueError(f"unknown state {status.state!r}")
        return status


def status_path(settings: Settings) -> Path:
    """The status file of the configured index."""
    return settings.paths.index_dir.resolve() / STATUS_FILE


def read_status(settings: Settings) -> JobStatus | None:
    """The last run's status from the file; a run whose process is gone is "interrupted"."""
    try:
        status = JobStatus.from_dict(json.loads(status_path(settings).read_text("utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if status.running and not _alive(status.pid):
        return replace(status, state="interrupted", error="The run stopped before it finished.")
    return status


_active_here = 0  # tracked runs going on in this process (any thread)
_active_lock = threading.Lock()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return _active_here > 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write(path: Path, status: JobStatus) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ingest_status.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(status.to_dict(), handle)
        os.replace(tmp, path)
    except OSError:
        logger.warning("Cannot write the ingestion status file %s", path, exc_info=True)


class StatusTracker:
    """Progress callback that keeps the current status and writes it to the status file.

    `tracked_ingest` hands it to ``on_status`` so that the job registry
    (`kbchat.admin.jobs`) shows the run of its thread as it goes.
    """

    def __init__(self, path: Path, status: JobStatus, also: ProgressCallback | None) -> None:
        self.path = path
        self.status = status
        self.writing = False  # becomes True at the first progress: the run holds the lock
        self._also = also
        self._written_at = 0.0

    def __call__(self, progress: Progress) -> None:
        phase_changed = progress.phase != self.status.phase
        self.status = replace(
            self.status,
            phase=progress.phase,
            done=progress.done,
            total=progress.total,
            current=progress.current,
            updated_at=now_iso(),
        )
        self.writing = True
        if phase_changed or time.monotonic() - self._written_at >= WRITE_EVERY_S:
            self._flush()
        if self._also is not None:
            self._also(progress)

    def finish(self, **changes: Any) -> None:
        """End the run with these status fields (written only if the run held the lock)."""
        self.status = replace(self.status, finished_at=now_iso(), updated_at=now_iso(), **changes)
        if self.writing:
            self._flush()

    def _flush(self) -> None:
        _write(self.path, self.status)
        self._written_at = time.monotonic()


def _per_file(
    before: dict[str, tuple[object, ...]],
    after: dict[str, tuple[object, ...]],
    no_text: set[str],
) -> dict[str, list[str]]:
    """Paths added, updated and removed; a file whose passages left the index because it
    has no text any more is listed once, as skipped in the report, not also as removed."""
    return {
        "added": sorted(set(after) - set(before)),
        "updated": sorted(s for s in set(after) & set(before) if after[s] != before[s]),
        "removed": sorted(set(before) - set(after) - no_text),
    }


def _manifest_state(settings: Settings) -> dict[str, tuple[object, ...]]:
    """What tells that a run rewrote a file (times alone have one-second steps)."""
    return {
        s: (e.file_hash, e.settings_key, e.sensitivity, e.chunk_ids, e.ingested_at)
        for s, e in manifest_for(settings).entries().items()
    }


def tracked_ingest(
    settings: Settings,
    corpus: Path | None = None,
    *,
    full: bool = False,
    progress: ProgressCallback | None = None,
    origin: str = "command line",
    user: str | None = None,
    on_status: Callable[[StatusTracker], None] | None = None,
) -> IngestReport:
    """`run_ingest`, with its progress and outcome in the status file, and audited.

    Args:
        settings: the settings.
        corpus: the folder (default: the configured one).
        full: rebuild from nothing.
        progress: also called with every progress report (a terminal bar).
        origin: who runs it, shown on the admin page.
        user: who asked, for the audit log.
        on_status: receives the tracker before the run starts (the job registry reads it).

    Raises:
        KbchatError: as `run_ingest`.
    """
    tracker = StatusTracker(
        status_path(settings),
        JobStatus.starting(origin, user, full),
        progress,
    )
    if on_status is not None:
        on_status(tracker)
    before = _manifest_state(settings)
    global _active_here
    with _active_lock:
        _active_here += 1
    try:
        report = run_ingest(settings, corpus, full=full, progress=tracker)
    except KbchatError as err:
        if not isinstance(err, IngestBusyError):  # another run holds the lock: not a run
            _audit(settings, origin, user, full, None, str(err))
        tracker.finish(state="failed", error=str(err))
        raise
    except BaseException:  # Ctrl-C, or a bug: the index converges at the next run
        tracker.finish(state="interrupted", error="The run was stopped before it finished.")
        raise
    finally:
        with _active_lock:
            _active_here -= 1
    no_text = {s["path"] for s in report.skipped if s["reason"].startswith(NO_TEXT)}
    files = _per_file(before, _manifest_state(settings), no_text)
    tracker.finish(state="done", phase="done", report=report.to_dict(), files=files)
    _audit(settings, origin, user, full, report, None)
    return report


def _audit(
    settings: Settings,
    origin: str,
    user: str | None,
    full: bool,
    report: IngestReport | None,
    error: str | None,
) -> None:
    detail: dict[str, Any] = {"action": "ingested", "origin": origin, "full": full}
    if report is not None:
        detail.update(
            files_added=report.files_added,
            files_updated=report.files_updated,
            files_removed=report.files_removed,
            files_failed=len(report.failed),
            files_skipped=len(report.skipped),
        )
    else:
        detail["error"] = error
    try:
        audit_for(settings).record(
            "document_changed", outcome="ok" if error is None else "failed", user=user,
            detail=json.dumps(detail),
        )  # fmt: skip
    except Exception:  # the run's outcome stands even if the audit log is unavailable
        logger.exception("Cannot write the ingestion to the audit log")


def summary(report: IngestReport) -> str:
    """One run in a line, time-stamped, then one line per file that failed or was skipped
    (unsupported, or nothing to index: not a failure)."""
    line = (
        f"[{time.strftime('%H:%M:%S')}] {report.files_added} added, "
        f"{report.files_updated} updated, {report.files_removed} removed, "
        f"{report.files_unchanged} unchanged; +{report.chunks_added}/-{report.chunks_removed} "
        f"chunks, {report.chunks_total} in total, in {report.seconds:.1f} s."
    )
    if report.access_rewritten:
        line += f" Access rewritten for {report.access_rewritten} document(s)."
    line += "".join(f"\n  failed:  {f['path']}: {f['reason']}" for f in report.failed)
    return line + "".join(f"\n  skipped: {s['path']}: {s['reason']}" for s in report.skipped)
