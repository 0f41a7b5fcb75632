"""Watch mode: the index follows files added, edited and deleted; Ctrl-C stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest.sync import IngestReport
from kbchat.errors import KbchatError
from kbchat.ingestion import read_status
from kbchat.knowledge import manifest_for, search
from kbchat.settings import Settings
from kbchat.watch import snapshot, watch
from tests.conftest import ROOT, make_settings

pytestmark = pytest.mark.integration

INTERVAL = 0.2
WAIT_S = 120


class Watcher:
    """`watch` in a thread, collecting its reports and errors."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reports: list[IngestReport] = []
        self.errors: list[KbchatError] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=watch,
            args=(settings,),
            kwargs={
                "interval": INTERVAL,
                "on_report": self.reports.append,
                "on_error": self.errors.append,
                "stop": self.stop,
            },
        )

    def until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not condition():
            assert self.thread.is_alive(), "the watcher stopped"
            assert time.monotonic() < deadline, f"the index did not follow: {what}"
            time.sleep(0.1)

    def next_report(self, what: str) -> IngestReport:
        """The report of the next run. The index changes before the run reports, so a test
        that waited on the index could read the previous run's report."""
        seen = len(self.reports)
        self.until(lambda: len(self.reports) > seen, what)
        return self.reports[-1]


@pytest.fixture
def watcher(tmp_path: Path, small_corpus: Path) -> Iterator[Watcher]:
    running = Watcher(make_settings(tmp_path, small_corpus))
    running.thread.start()
    try:
        yield running
    finally:
        running.stop.set()
        running.thread.join(30)


def _write(path: Path, corpus: Path, text: str) -> None:
    """Write whole, at once, so that no run sees the file half written."""
    part = corpus.parent / f"{path.name}.part"  # beside the corpus, not in it
    part.write_text(text, encoding="utf-8")
    os.replace(part, path)


def _sources(settings: Settings) -> set[str]:
    return set(manifest_for(settings).entries())


def test_index_follows_added_edited_and_deleted_files(watcher: Watcher) -> None:
    settings, corpus = watcher.settings, watcher.settings.paths.corpus_dir
    watcher.until(lambda: len(watcher.reports) == 1, "first run")
    assert watcher.reports[0].files_added == 6
    assert "it/vpn.txt" in _sources(settings)

    _write(corpus / "it" / "wifi.md", corpus, "# Wi-Fi\n\nThe guest network is QuillonGuest.\n")
    added = watcher.next_report("added file")
    assert added.files_added == 1 and added.files_unchanged == 6
    assert "it/wifi.md" in _sources(settings)
    assert search(settings, "guest wifi network", 1)[0].metadata["source"] == "it/wifi.md"

    _write(corpus / "it" / "wifi.md", corpus, "# Wi-Fi\n\nThe guest network is now ZebraNet.\n")
    assert watcher.next_report("edited file").files_updated == 1
    [hit] = search(settings, "ZebraNet", 1, mode="keyword")
    assert hit.metadata["source"] == "it/wifi.md" and "ZebraNet" in hit.text

    (corpus / "it" / "vpn.txt").unlink()
    assert watcher.next_report("deleted file").files_removed == 1
    assert "it/vpn.txt" not in _sources(settings)
    assert search(settings, "QuillonConnect", 3, mode="keyword") == []

    runs = len(watcher.reports)
    time.sleep(INTERVAL * 5)
    assert len(watcher.reports) == runs, "no change, no run"
    assert watcher.errors == []
    status = read_status(settings)
    assert status is not None and status.origin == "watch" and status.state == "done"
    assert status.files is not None and status.files["removed"] == ["it/vpn.txt"]


def test_snapshot_sees_size_and_time_of_supported_files_only(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("a")
    (tmp_path / "b.xyz").write_text("b")
    (tmp_path / ".hidden.md").write_text("c")
    first = snapshot(tmp_path)
    assert set(first) == {"a.md"}
    os.utime(tmp_path / "a.md", ns=(1, 1))
    assert snapshot(tmp_path) != first


def test_cli_watch_prints_each_run_and_stops_on_ctrl_c(tmp_path: Path, small_corpus: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KBCHAT_")},
        "KBCHAT_CORPUS_DIR": str(small_corpus),
        "KBCHAT_INDEX_DIR": str(tmp_path / "index"),
    }
    code = (
        "from kbchat.settings import Settings\n"
        "from kbchat.cli.index import run_watch\n"
        "run_watch(Settings(), None, interval=0.2)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "6 added" in first, first
        (small_corpus / "extra.txt").write_text("Extra\n\nThe canteen opens at 8.\n")
        second = proc.stdout.readline()
        assert "1 added" in second and "6 unchanged" in second, second
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            # Known issue (closing note of 2026-12-03): in the full suite a first Ctrl-C is
            # sometimes not acted on; a second one must still stop the watch cleanly.
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Watching" in err and "Stopped watching." in err
    assert "Traceback" not in err
