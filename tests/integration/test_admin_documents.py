"""Admin document changes on a real index: list with status, delete, per-file labels."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ingest.lock import ingest_lock
from kbchat.admin import documents
from kbchat.admin.jobs import JobFailedError, start_reingest, wait_for_job
from kbchat.audit import audit_for
from kbchat.ingestion import read_status, tracked_ingest
from kbchat.knowledge import embedder_for, index_for, manifest_for, run_ingest
from kbchat.overrides import set_override
from kbchat.settings import Settings
from tests.conftest import CORPUS, make_settings
from tests.fixtures.snapshots import snapshot

pytestmark = pytest.mark.integration


@pytest.fixture
def kb(tmp_path: Path, small_corpus: Path) -> Settings:
    """The small corpus plus a PDF and a DOCX from docs_corpus, ingested."""
    shutil.copy(CORPUS / "hr" / "employee_handbook_excerpt.pdf", small_corpus / "handbook.pdf")
    shutil.copy(CORPUS / "hr" / "performance_review_guide.docx", small_corpus / "reviews.docx")
    settings = make_settings(tmp_path, small_corpus, chunk_size=400, chunk_overlap=40)
    report = run_ingest(settings)
    assert report.failed == []
    return settings


def _labels(settings: Settings, source: str) -> set[str]:
    entry = manifest_for(settings).entries()[source]
    stored = index_for(settings).chroma.get(list(entry.chunk_ids))
    return {str(meta["sensitivity"]) for _text, meta in stored.values()} | {entry.sensitivity}


def _row(settings: Settings, source: str) -> documents.DocumentRow:
    return next(r for r in documents.list_documents(settings) if r.source == source)


def test_list_shows_every_document_with_its_status(kb: Settings) -> None:
    corpus = kb.paths.corpus_dir
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (corpus / "notes.xyz").write_text("unsupported")
    run_ingest(kb)
    (corpus / "new.md").write_text("# New\n\nNot ingested yet.\n")
    (corpus / "it" / "printers.txt").write_text("Printers\n\nNow with colour printing too.\n")
    (corpus / "welcome.md").unlink()
    rows = {r.source: r for r in documents.list_documents(kb)}
    leave = rows["hr/leave.md"]
    assert (leave.status, leave.format, leave.sensitivity, leave.title) == (
        "indexed", "markdown", "internal", "Leave policy",
    )  # fmt: skip
    assert leave.chunks >= 1 and leave.last_ingested and leave.size
    assert rows["hr/salaries.md"].sensitivity == "confidential"
    assert rows["broken.pdf"].status == documents.STATUS_FAILED and rows["broken.pdf"].error
    assert rows["notes.xyz"].status == documents.STATUS_SKIPPED
    assert "unsupported file type" in (rows["notes.xyz"].error or "")
    assert rows["new.md"].status == documents.STATUS_NEW and rows["new.md"].chunks == 0
    assert rows["it/printers.txt"].status == documents.STATUS_CHANGED
    assert rows["welcome.md"].status == documents.STATUS_GONE
    assert rows["handbook.pdf"].format == "pdf" and rows["reviews.docx"].format == "docx"


def test_delete_removes_the_file_and_its_chunks(kb: Settings) -> None:
    index = index_for(kb)
    entry = manifest_for(kb).entries()["it/vpn.txt"]
    before = index.count()
    documents.delete_document(kb, "it/vpn.txt", user="admin")
    assert not (kb.paths.corpus_dir / "it" / "vpn.txt").exists()
    assert "it/vpn.txt" not in manifest_for(kb).entries()
    assert index.count() == before - len(entry.chunk_ids)
    assert index.chroma.get(list(entry.chunk_ids)) == {}
    hits = index.search("QuillonConnect VPN client", 5)
    assert all(h.metadata["source"] != "it/vpn.txt" for h in hits)
    assert json.loads(audit_for(kb).entries()[0].detail or "{}") == {
        "action": "deleted",
        "source": "it/vpn.txt",
    }
    report = run_ingest(kb)
    assert (report.files_removed, report.files_added, report.files_updated) == (0, 0, 0)


def test_delete_is_refused_during_an_ingestion_and_for_unknown_paths(kb: Settings) -> None:
    running = pytest.raises(documents.DocumentError, match="An ingestion is running")
    with ingest_lock(kb.paths.index_dir.resolve()), running:
        documents.delete_document(kb, "hr/leave.md")
    assert (kb.paths.corpus_dir / "hr" / "leave.md").exists()
    for bad in ("../../etc/passwd", "/etc/passwd", "nothing-here.md"):
        with pytest.raises(documents.DocumentError):
            documents.delete_document(kb, bad)


def test_a_label_reprocesses_only_that_file_and_reuses_its_vectors(
    kb: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded: list[str] = []
    embedder = embedder_for(kb)
    real = embedder.embed_documents

    def counting(texts: Sequence[str]) -> Any:
        embedded.extend(texts)
        return real(texts)

    monkeypatch.setattr(embedder, "embed_documents", counting)
    for source, label in (("handbook.pdf", "confidential"), ("reviews.docx", "public")):
        assert documents.set_sensitivity(kb, source, label, user="admin").label == label
        assert _row(kb, source).label_pending
        report = tracked_ingest(kb, origin="admin page")
        assert (report.files_updated, report.files_added, report.chunks_added) == (1, 0, 0)
        assert _labels(kb, source) == {label}
        status = read_status(kb)
        assert status is not None and status.files == {
            "added": [], "updated": [source], "removed": [],
        }  # fmt: skip
    assert embedded == [], "the vectors were reused"
    assert not _row(kb, "handbook.pdf").label_pending


def test_the_strictest_label_wins_in_the_index_as_in_force(kb: Settings) -> None:
    """Admin label and front matter: the stricter one; a path rule beats both."""
    lowered = documents.set_sensitivity(kb, "hr/salaries.md", "public")
    assert (lowered.label, lowered.reason) == ("confidential", "front matter")
    raised = documents.set_sensitivity(kb, "hr/leave.md", "confidential")
    assert (raised.label, raised.reason) == ("confidential", "admin label")
    run_ingest(kb)
    assert _labels(kb, "hr/salaries.md") == {"confidential"}
    assert _labels(kb, "hr/leave.md") == {"confidential"}
    documents.set_sensitivity(kb, "hr/leave.md", "public")
    set_override(kb, "confidential_paths", ["hr/**"])
    assert documents.set_sensitivity(kb, "it/vpn.txt", "public").label == "public"
    assert _row(kb, "hr/leave.md").sensitivity == "confidential", "in force before any ingest"
    assert _row(kb, "hr/leave.md").label_reason == "path rule"
    run_ingest(kb)
    assert _labels(kb, "hr/leave.md") == {"confidential"}
    assert _labels(kb, "it/vpn.txt") == {"public"}
    documents.set_sensitivity(kb, "hr/leave.md", None)
    set_override(kb, "confidential_paths", [])
    assert _row(kb, "hr/leave.md").sensitivity == "internal"
    assert _row(kb, "hr/leave.md").label_pending, "the index says confidential until re-ingested"
    run_ingest(kb)
    assert _labels(kb, "hr/leave.md") == {"internal"}, "back to the front matter"
    assert not _row(kb, "hr/leave.md").label_pending


def test_labelled_index_equals_a_clean_build_with_the_same_labels(
    kb: Settings, tmp_path: Path
) -> None:
    documents.set_sensitivity(kb, "it/laptops.csv", "confidential")
    run_ingest(kb)
    clean = make_settings(tmp_path / "clean", kb.paths.corpus_dir, chunk_size=400, chunk_overlap=40)
    clean.paths.index_dir.mkdir(parents=True)
    shutil.copy(kb.paths.index_dir / "admin_settings.json", clean.paths.index_dir)
    run_ingest(clean)
    ours = snapshot(index_for(kb), manifest_for(kb))
    theirs = snapshot(index_for(clean), manifest_for(clean))
    assert ours["dense"] == theirs["dense"] and ours["files"] == theirs["files"]


def test_a_reingest_that_cannot_start_is_reported_as_failed_with_the_reason(
    kb: Settings,
) -> None:
    documents.set_sensitivity(kb, "it/vpn.txt", "confidential")
    refused = pytest.raises(JobFailedError, match="did not start: Another ingestion is running")
    with ingest_lock(kb.paths.index_dir.resolve()), refused:  # another ingestion holds the lock
        start_reingest(kb, user="admin")
    status = wait_for_job(kb)
    assert status is not None and status.state == "failed"
    assert _row(kb, "it/vpn.txt").sensitivity == "confidential", "in force regardless"
    assert _row(kb, "it/vpn.txt").label_pending
