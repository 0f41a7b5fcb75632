"""A file whose parsing hangs, exhausts memory or crashes cannot take ingestion down with it.

Each file is parsed in a worker process under a time limit and an address-space limit; the
file over a limit is reported as failed with the reason, the rest is indexed, what was indexed
before for that file stays, and the ingesting process (here: the test's) carries on.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ingest.loaders import LoadError
from ingest.parser_pool import ParserLimits, ParserPool
from tests.fixtures.hostile_loader import LOADER
from tests.integration.test_ingest_sync import Kb
from vectorstore import SentenceTransformerEmbedder

pytestmark = [pytest.mark.security, pytest.mark.integration]

LIMITS = ParserLimits(timeout_s=4.0, memory_mb=256, workers=1)


def _reasons(report_failed: list[dict[str, str]]) -> dict[str, str]:
    return {item["path"]: item["reason"] for item in report_failed}


def test_hostile_files_fail_with_reason_and_the_rest_ingests(
    tmp_path: Path, small_corpus: Path, embedder: SentenceTransformerEmbedder
) -> None:
    victim = small_corpus / "it" / "printers.txt"
    kb = Kb(tmp_path / "kb", small_corpus, embedder)
    first = kb.ingest(parser_limits=LIMITS, loader=LOADER)
    assert first.failed == []
    assert "it/printers.txt" in kb.sources("FollowMe print jobs badge release")

    victim.write_text("HANG while parsing\n", encoding="utf-8")  # an edit that now hangs
    (small_corpus / "huge.txt").write_text("HUGE inflating document\n", encoding="utf-8")
    (small_corpus / "crash.txt").write_text("SEGFAULT in the parser\n", encoding="utf-8")
    (small_corpus / "it" / "wifi.md").write_text("# Wifi\n\nGuest wifi is QuillonGuest.\n")

    started = time.monotonic()
    report = kb.ingest(parser_limits=LIMITS, loader=LOADER)
    elapsed = time.monotonic() - started

    reasons = _reasons(report.failed)
    assert set(reasons) == {"it/printers.txt", "huge.txt", "crash.txt"}
    assert "longer than 4 s" in reasons["it/printers.txt"]
    assert "KBCHAT_PARSER_TIMEOUT_S" in reasons["it/printers.txt"]
    assert "more than 256 MB" in reasons["huge.txt"]
    assert "KBCHAT_PARSER_MEMORY_MB" in reasons["huge.txt"]
    assert "SIGSEGV" in reasons["crash.txt"]
    assert elapsed < 60, f"the hanging file held the run for {elapsed:.0f} s"
    # the rest ingested, and what was indexed for the hanging file stays searchable
    assert report.files_added == 1
    assert "it/wifi.md" in kb.sources("guest wifi network name")
    assert "it/printers.txt" in kb.sources("FollowMe print jobs badge release")
    assert set(kb.manifest.failures()) == {"it/printers.txt", "huge.txt", "crash.txt"}

    # the workers were replaced: a fixed file ingests in the same process
    victim.write_text("Printers\n\nPrint jobs go to FollowMe; release them at any printer.\n")
    for name in ("huge.txt", "crash.txt"):
        (small_corpus / name).unlink()
    again = kb.ingest(parser_limits=LIMITS, loader=LOADER)
    assert again.failed == []
    assert again.files_updated == 1
    assert kb.manifest.failures() == {}


def test_pool_reuses_its_worker_and_replaces_a_killed_one(small_corpus: Path) -> None:
    pool = ParserPool(LIMITS, LOADER)
    try:
        pool.start()
        first_pid = pool._idle[0].process.pid
        document = pool.load(small_corpus / "welcome.md", max_bytes=100_000)
        assert document.title == "Welcome"
        assert pool._idle[0].process.pid == first_pid  # the same worker, reused
        crash = small_corpus / "crash.txt"
        crash.write_text("SEGFAULT\n", encoding="utf-8")
        with pytest.raises(LoadError, match="parser process died"):
            pool.load(crash, max_bytes=100_000)
        again = pool.load(small_corpus / "it" / "vpn.txt", max_bytes=100_000)
        assert "QuillonConnect" in again.sections[0].text
        assert pool._idle[0].process.pid not in (first_pid, os.getpid())
    finally:
        pool.close()
