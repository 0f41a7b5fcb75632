"""Background re-ingestion: one at a time, progress visible to any page, the status file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.lock import IngestLockedError
from ingest.sync import IngestReport, Progress
from kbchat import ingestion
from kbchat.admin import jobs
from kbchat.admin.jobs import JobRunningError, current_job, start_reingest
from kbchat.errors import KbchatError
from kbchat.ingestion import JobStatus
from kbchat.settings import Settings
from tests.conftest import make_settings

pytestmark = pytest.mark.unit


class FakeIngest:
    """Stands in for `run_ingest`: reports progress, then waits until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.fail_with: KbchatError | None = None

    def __call__(self, settings: Settings, corpus: Any, *, full: bool, progress: Any) -> Any:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        progress(Progress(0, 4, "a.md", "scanning"))
        progress(Progress(1, 4, "b.md", "ingesting"))
        self.started.set()
        assert self.release.wait(10)
        progress(Progress(4, 4, "", "done"))
        return IngestReport(files_added=4, chunks_total=9, failed=[{"path": "x", "reason": "y"}])


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIngest]:
    ingest = FakeIngest()
    monkeypatch.setattr(ingestion, "run_ingest", ingest)
    yield ingest
    ingest.release.set()


def test_one_run_at_a_time_with_progress_then_report(tmp_path: Path, fake: FakeIngest) -> None:
    settings = make_settings(tmp_path)
    status = start_reingest(settings, user="admin")
    assert status.running and status.origin == "admin page"
    assert fake.started.wait(10)
    with pytest.raises(JobRunningError, match=r"already running .*ingesting, 1 of 4 files"):
        start_reingest(settings)
    assert fake.calls == 1
    seen = current_job(settings)
    assert seen is not None and seen.running and (seen.done, seen.total) == (1, 4)
    on_disk = json.loads(ingestion.status_path(settings).read_text())
    assert on_disk["state"] == "running" and on_disk["pid"] == os.getpid()
    fake.release.set()
    done = jobs.wait_for_job(settings)
    assert done is not None and done.state == "done"
    assert done.report is not None and done.report["files_added"] == 4
    assert json.loads(ingestion.status_path(settings).read_text())["state"] == "done"
    start_reingest(settings)  # free again
    fake.release.set()
    jobs.wait_for_job(settings)


def test_status_file_of_another_process_is_shown_and_refuses_a_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        running = JobStatus(
            state="running", origin="command line", started_at="2999-01-01T10:00:00+00:00",
            pid=other.pid, phase="writing", done=3, total=7,
        )  # fmt: skip
        ingestion.status_path(settings).parent.mkdir(parents=True)
        ingestion.status_path(settings).write_text(json.dumps(running.to_dict()))
        assert current_job(settings) == running
        with pytest.raises(JobRunningError, match="from the command line at 10:00 UTC"):
            start_reingest(settings)
    finally:
        other.kill()
        other.wait()
    gone = current_job(settings)
    assert gone is not None and gone.state == "interrupted", "its process is gone"


def test_a_refused_run_does_not_overwrite_the_status_of_the_running_one(
    tmp_path: Path, fake: FakeIngest
) -> None:
    settings = make_settings(tmp_path)
    ingestion.status_path(settings).parent.mkdir(parents=True)
    ingestion.status_path(settings).write_text(
        '{"state": "done", "origin": "x", "started_at": "t"}'
    )
    locked = KbchatError("Another ingestion is running on /x (process 1): wait for it.")
    locked.__cause__ = IngestLockedError("locked")
    fake.fail_with = locked
    with pytest.raises(jobs.JobFailedError, match="did not start: Another ingestion is running"):
        start_reingest(settings)  # reported as failed, never as started
    status = jobs.wait_for_job(settings)
    assert status is not None and status.state == "failed"
    assert status.error is not None and "Another ingestion is running" in status.error
    assert json.loads(ingestion.status_path(settings).read_text())["origin"] == "x", "untouched"


def test_tracked_ingest_records_failure_and_interruption(
    tmp_path: Path, fake: FakeIngest, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    fake.fail_with = KbchatError("Corpus folder /nope does not exist.")
    with pytest.raises(KbchatError):
        ingestion.tracked_ingest(settings)
    assert not ingestion.status_path(settings).exists(), "never held the lock: nothing written"

    def interrupted(settings: Settings, corpus: Any, *, full: bool, progress: Any) -> Any:
        progress(Progress(0, 2, "a.md", "scanning"))
        raise KeyboardInterrupt

    monkeypatch.setattr(ingestion, "run_ingest", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ingestion.tracked_ingest(settings, origin="watch")
    status = ingestion.read_status(settings)
    assert status is not None and status.state == "interrupted" and status.origin == "watch"


def test_unreadable_status_file_means_no_run(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    ingestion.status_path(settings).parent.mkdir(parents=True)
    ingestion.status_path(settings).write_text("{not json")
    assert current_job(settings) is None
    ingestion.status_path(settings).write_text(
        '{"state": "exploded", "origin": "x", "started_at": "t"}'
    )
    assert current_job(settings) is None
