"""A run killed at any point, run again, converges to the index a clean run builds."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CORPUS
from tests.fixtures.crash import Crash, crash_on_call
from tests.fixtures.snapshots import assert_same_index
from tests.integration.test_ingest_sync import Kb, clean_build
from vectorstore import SentenceTransformerEmbedder

pytestmark = pytest.mark.integration


def _edit_corpus(corpus: Path) -> None:
    """Change one file, add one, delete one, relabel one."""
    leave = corpus / "hr" / "leave.md"
    leave.write_text(
        leave.read_text().replace("27 days", "28 days") + "\n## Buying leave\nBuy up to 5 days.\n"
    )
    (corpus / "it" / "wifi.md").write_text("# Wifi\n\nGuest wifi is QuillonGuest.\n")
    (corpus / "it" / "printers.txt").unlink()
    salaries = corpus / "hr" / "salaries.md"
    salaries.write_text(salaries.read_text().replace("confidential", "internal"))


INJECTION_POINTS = [
    ("manifest", "journal_begin", 1),
    ("manifest", "journal_begin", 3),
    ("chroma", "upsert", 1),
    ("chroma", "upsert", 2),
    ("keyword", "upsert", 1),
    ("keyword", "upsert", 2),
    ("chroma", "delete", 1),
    ("chroma", "delete", 2),
    ("keyword", "delete", 1),
    ("keyword", "delete", 2),
    ("manifest", "commit_file", 1),
    ("manifest", "commit_file", 2),
    ("manifest", "remove_file", 1),
]


@pytest.mark.parametrize(("target", "method", "nth"), INJECTION_POINTS)
def test_crash_at_any_write_converges_on_rerun(
    tmp_path: Path,
    small_corpus: Path,
    embedder: SentenceTransformerEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    method: str,
    nth: int,
) -> None:
    kb = Kb(tmp_path / "kb", small_corpus, embedder)
    kb.ingest()
    _edit_corpus(small_corpus)
    owner = {
        "manifest": kb.manifest,
        "chroma": kb.index.chroma,
        "keyword": kb.index.keyword,
    }[target]
    crash_on_call(monkeypatch, owner, method, nth)
    with pytest.raises(Crash):
        kb.ingest()
    monkeypatch.undo()  # the real method again
    # A new process: new objects over the same folder.
    restarted = Kb(tmp_path / "kb", small_corpus, embedder)
    restarted.ingest()
    assert_same_index(restarted.snapshot(), clean_build(tmp_path, small_corpus, embedder))


def _committed_files(index_dir: Path) -> int:
    path = index_dir / "manifest.sqlite3"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_killed_process_converges_on_rerun(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    env = {
        **os.environ,
        "KBCHAT_CORPUS_DIR": str(CORPUS),
        "KBCHAT_INDEX_DIR": str(index_dir),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kbchat", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while _committed_files(index_dir) < 8:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "ingestion made no progress"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = _committed_files(index_dir)
    files = sum(1 for p in CORPUS.rglob("*") if p.is_file())
    assert killed_at < files, "the run was killed before it finished"

    rerun = subprocess.run(
        [sys.executable, "-m", "kbchat", "ingest", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert '"failed": []' in rerun.stdout

    from ingest.chunking import ChunkingOptions
    from ingest.manifest import Manifest
    from kbchat.knowledge import embedder_for
    from tests.conftest import make_settings
    from tests.fixtures.snapshots import snapshot
    from vectorstore import KnowledgeIndex

    defaults = make_settings(tmp_path)  # what `kbchat ingest` used: its defaults, ONNX int8
    default = embedder_for(defaults)
    resumed = snapshot(KnowledgeIndex(index_dir, default), Manifest(index_dir / "manifest.sqlite3"))
    clean = Kb(tmp_path / "clean", CORPUS, default)  # type: ignore[arg-type]
    chunking = ChunkingOptions(defaults.ingest.chunk_size, defaults.ingest.chunk_overlap)
    clean.ingest(chunking=chunking, max_file_bytes=25 * 1024 * 1024)
    assert_same_index(resumed, clean.snapshot())


@pytest.mark.parametrize(
    ("target", "method"),
    [("chroma", "delete"), ("keyword", "delete"), ("manifest", "record_no_text")],
)
def test_crash_while_removing_an_emptied_file_converges_on_rerun(
    tmp_path: Path,
    small_corpus: Path,
    embedder: SentenceTransformerEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    method: str,
) -> None:
    kb = Kb(tmp_path / "kb", small_corpus, embedder)
    kb.ingest()
    (small_corpus / "it" / "vpn.txt").write_text("\n \n")  # now it says nothing
    owner = {"manifest": kb.manifest, "chroma": kb.index.chroma, "keyword": kb.index.keyword}
    crash_on_call(monkeypatch, owner[target], method, 1)
    with pytest.raises(Crash):
        kb.ingest()
    monkeypatch.undo()
    restarted = Kb(tmp_path / "kb", small_corpus, embedder)
    report = restarted.ingest()
    assert [s["path"] for s in report.skipped] == ["it/vpn.txt"] and report.failed == []
    assert_same_index(restarted.snapshot(), clean_build(tmp_path, small_corpus, embedder))
