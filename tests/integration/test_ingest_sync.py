"""The ingestion job on a real embedded Chroma with the real packaged embedder."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from docx import Document
from fpdf import FPDF

from ingest.chunking import ChunkingOptions
from ingest.lock import IngestLockedError, ingest_lock
from ingest.manifest import Manifest
from ingest.sync import IngestJob, IngestOptions, IngestReport
from tests.conftest import CORPUS
from tests.fixtures.snapshots import assert_same_index, snapshot
from vectorstore import KnowledgeIndex, SentenceTransformerEmbedder

pytestmark = pytest.mark.integration


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.embedded: list[str] = []

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


class Kb:
    """An index, its manifest and the job options for one test."""

    def __init__(self, root: Path, corpus: Path, embedder: SentenceTransformerEmbedder) -> None:
        self.root = root
        self.corpus = corpus
        self.embedder = CountingEmbedder(embedder)
        self.index = KnowledgeIndex(root / "index", self.embedder)  # type: ignore[arg-type]
        self.manifest = Manifest(root / "index" / "manifest.sqlite3")

    def options(self, **changes: object) -> IngestOptions:
        base: dict[str, object] = {
            "corpus_dir": self.corpus,
            "max_file_bytes": 200_000,
            "chunking": ChunkingOptions(400, 40),
        }
        base.update(changes)
        return IngestOptions(**base)  # type: ignore[arg-type]

    def ingest(self, **changes: object) -> IngestReport:
        return IngestJob(self.index, self.manifest, self.options(**changes)).run()

    def snapshot(self) -> dict[str, object]:
        return snapshot(self.index, self.manifest)

    def sources(self, query: str, k: int = 3) -> list[str]:
        return [str(h.metadata["source"]) for h in self.index.search(query, k)]


@pytest.fixture
def kb(tmp_path: Path, small_corpus: Path, embedder: SentenceTransformerEmbedder) -> Kb:
    return Kb(tmp_path / "kb", small_corpus, embedder)


def clean_build(tmp_path: Path, corpus: Path, embedder: SentenceTransformerEmbedder) -> dict:
    fresh = Kb(tmp_path / "clean", corpus, embedder)
    fresh.ingest()
    return fresh.snapshot()


# -- the sample corpus ------------------------------------------------------------------------


def test_sample_corpus_ingests_every_format(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    kb = Kb(tmp_path, CORPUS, embedder)
    report = kb.ingest(chunking=ChunkingOptions(900, 120), max_file_bytes=25_000_000)
    files = [p for p in CORPUS.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert report.failed == []
    assert report.files_added == len(files) >= 30
    assert report.chunks_total == kb.index.count() == kb.index.keyword.count()
    entries = kb.manifest.entries()
    assert {e.format for e in entries.values()} == {
        "markdown",
        "text",
        "pdf",
        "docx",
        "html",
        "csv",
    }
    labels = {source: e.sensitivity for source, e in entries.items()}
    assert all(labels[s] == "confidential" for s in labels if s.startswith("hr/private/"))
    assert set(labels.values()) == {"public", "internal", "confidential"}
    pdf_pages = {
        h.metadata.get("page")
        for h in kb.index.search("travel policy", 30)
        if h.metadata["format"] == "pdf"
    }
    assert pdf_pages - {None}, "PDF chunks carry page numbers"
    again = kb.ingest(chunking=ChunkingOptions(900, 120), max_file_bytes=25_000_000)
    assert (again.files_unchanged, again.files_added, again.chunks_added) == (len(files), 0, 0)


# -- incremental sync -------------------------------------------------------------------------


def test_unchanged_files_are_not_embedded_again(kb: Kb) -> None:
    first = kb.ingest()
    assert first.files_added == 6 and first.chunks_added == first.chunks_total > 0
    kb.embedder.embedded.clear()
    before = kb.snapshot()
    second = kb.ingest()
    assert second.files_unchanged == 6
    assert (second.files_added, second.files_updated, second.files_removed) == (0, 0, 0)
    assert kb.embedder.embedded == []
    assert kb.snapshot() == before


def test_add_change_delete_follow_the_folder(
    kb: Kb, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    kb.ingest()
    old_vpn = set(kb.manifest.entries()["it/vpn.txt"].chunk_ids)
    (kb.corpus / "it" / "wifi.md").write_text(
        "# Guest wifi\n\nThe guest network is QuillonGuest; the password changes every Monday.\n"
    )
    (kb.corpus / "it" / "vpn.txt").write_text(
        "Connecting to the VPN\n\nInstall the QuillonConnect client from the software centre.\n"
        "Sign in with your work account and approve the MFA prompt.\n\n"
        "If the connection drops, call the service desk on extension 4357.\n"
    )
    (kb.corpus / "it" / "printers.txt").unlink()
    kb.embedder.embedded.clear()
    report = kb.ingest()
    assert (report.files_added, report.files_updated, report.files_removed) == (1, 1, 1)
    assert report.files_unchanged == 4
    assert report.chunks_removed >= 1 and report.chunks_added >= 2
    assert "it/printers.txt" not in kb.manifest.entries()
    assert "it/printers.txt" not in kb.sources("print jobs badge FollowMe", 10)
    assert kb.sources("guest wifi password")[0] == "it/wifi.md"
    assert kb.sources("connection drops extension")[0] == "it/vpn.txt"
    new_vpn = set(kb.manifest.entries()["it/vpn.txt"].chunk_ids)
    assert not (old_vpn - new_vpn) & kb.index.chroma.ids(), "old chunks of a changed file are gone"
    # Only text that changed was embedded again.
    assert all("QuillonGuest" in t or "4357" in t for t in kb.embedder.embedded)
    assert_same_index(kb.snapshot(), clean_build(tmp_path, kb.corpus, embedder))


def test_changing_rules_relabels_without_embedding(kb: Kb) -> None:
    kb.ingest()
    kb.embedder.embedded.clear()
    report = kb.ingest(confidential_paths=("hr/private/**", "it/**"))
    assert report.files_updated == 3  # it/vpn.txt, it/printers.txt, it/laptops.csv
    assert kb.embedder.embedded == []
    labels = {s: e.sensitivity for s, e in kb.manifest.entries().items()}
    assert labels["it/vpn.txt"] == "confidential"
    assert labels["hr/leave.md"] == "internal"
    hits = kb.index.search("VPN client", 3, filters={"sensitivity": "confidential"})
    assert hits and all(h.metadata["sensitivity"] == "confidential" for h in hits)


def test_full_rebuild_gives_the_same_index(kb: Kb) -> None:
    kb.ingest()
    incremental = kb.snapshot()
    report = kb.ingest(full=True)
    assert report.files_added == 6
    assert_same_index(kb.snapshot(), incremental)


# -- bad input --------------------------------------------------------------------------------


def _write_bad_files(corpus: Path) -> None:
    bad = corpus / "bad"
    bad.mkdir()
    (bad / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nthis is not a pdf")
    (bad / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (bad / "empty.md").write_bytes(b"")
    (bad / "huge.txt").write_text("lorem ipsum " * 30_000)
    (bad / "label.md").write_text("---\nsensitivity: top-secret\n---\n# Oops\n\nText.\n")
    (bad / "broken.txt").symlink_to(corpus / "does-not-exist.txt")
    (bad / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (bad / "latin1.txt").write_bytes("Café prices: £3 for a “flat white”.\n".encode("cp1252"))


def test_bad_files_are_reported_and_the_rest_ingested(kb: Kb) -> None:
    _write_bad_files(kb.corpus)
    report = kb.ingest()
    reasons = {f["path"]: f["reason"] for f in report.failed}
    assert set(reasons) == {
        "bad/corrupt.pdf",
        "bad/binary.txt",
        "bad/huge.txt",
        "bad/label.md",
        "bad/broken.txt",
    }
    assert "not a readable PDF" in reasons["bad/corrupt.pdf"]
    assert "binary" in reasons["bad/binary.txt"]
    assert "limit" in reasons["bad/huge.txt"]
    assert "top-secret" in reasons["bad/label.md"]
    assert "cannot read" in reasons["bad/broken.txt"]
    assert report.skipped == [
        {"path": "bad/image.png", "reason": "unsupported file type .png"},
        {"path": "bad/empty.md", "reason": "no text to index (the file is empty)"},
    ]
    assert report.files_added == 7  # six good files and the cp1252 one
    assert kb.index.search("flat white", 1)[0].text.startswith("Café prices: £3")
    assert set(kb.manifest.failures()) == set(reasons)


def _pdf(text: str) -> bytes:
    """A one-page PDF (fpdf2); an empty text gives a page with no text layer."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    if text:
        pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def _docx(path: Path, text: str) -> None:
    document = Document()
    document.add_paragraph(text)
    document.save(str(path))


NO_TEXT_FILES = {  # path -> (content, the reason it is skipped)
    "empty/meta.md": (
        b"---\ntitle: Parking\nsensitivity: internal\n---\n\n<!-- to be written -->\n",
        "no text to index (only front matter)",
    ),
    "empty/zero.txt": (b"", "no text to index (the file is empty)"),
    "empty/blank.txt": (b"  \n\t\n\n", "no text to index (only blank space)"),
    "empty/staff.csv": (b"name,room,phone\n", "no text to index (a header row but no data rows)"),
    "empty/zero.csv": (b"", "no text to index (the file is empty)"),
    "empty/scan.pdf": (_pdf(""), "no text to index (no text layer: a scanned PDF?)"),
    "empty/menu.html": (
        b"<html><body><nav>Home</nav></body></html>",
        "no text to index (no body text)",
    ),
}


def test_files_with_no_text_are_skipped_not_failed(kb: Kb) -> None:
    for source, (content, _reason) in NO_TEXT_FILES.items():
        (kb.corpus / source).parent.mkdir(exist_ok=True)
        (kb.corpus / source).write_bytes(content)
    report = kb.ingest()
    want = {source: reason for source, (_content, reason) in NO_TEXT_FILES.items()}
    assert report.failed == []
    assert {s["path"]: s["reason"] for s in report.skipped} == want
    assert report.files_added == 6 and report.chunks_total == kb.index.count()
    assert kb.manifest.failures() == {}
    assert {source: why for source, (why, _at) in kb.manifest.no_text().items()} == want
    assert not any(source.startswith("empty/") for source in kb.manifest.entries())
    again = kb.ingest()  # still listed, every run, and still not a failure
    assert again.failed == [] and again.files_unchanged == 6
    assert {s["path"]: s["reason"] for s in again.skipped} == want


@pytest.mark.parametrize(
    ("source", "emptied", "reason"),
    [
        ("it/vpn.txt", b"", "no text to index (the file is empty)"),
        ("hr/leave.md", b"---\ntitle: Leave policy\n---\n", "no text to index (only front matter)"),
        ("it/laptops.csv", b"model,refresh years,owner\n", "no text to index (a header row"),
    ],
    ids=["emptied txt", "front matter only md", "header only csv"],
)
def test_a_file_that_loses_its_text_loses_its_passages(
    kb: Kb,
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    source: str,
    emptied: bytes,
    reason: str,
) -> None:
    kb.ingest()
    path = kb.corpus / source
    good = path.read_bytes()
    old_ids = kb.manifest.entries()[source].chunk_ids
    assert old_ids and set(old_ids) <= kb.index.chroma.ids()
    path.write_bytes(emptied)
    report = kb.ingest()
    assert report.failed == []
    [skip] = report.skipped
    assert skip["path"] == source and skip["reason"].startswith(reason)
    assert skip["reason"].endswith(
        f"{len(old_ids)} earlier passage{'s' * (len(old_ids) > 1)} left the index"
    )
    assert report.chunks_removed == len(old_ids) and report.files_removed == 0
    assert not set(old_ids) & (kb.index.chroma.ids() | kb.index.keyword.ids())
    assert source not in kb.manifest.entries() and source in kb.manifest.no_text()
    assert source not in {str(h.metadata["source"]) for h in kb.index.search(good.decode(), 10)}
    assert_same_index(kb.snapshot(), clean_build(tmp_path, kb.corpus, embedder))
    path.write_bytes(good)  # text again: indexed again, no longer skipped
    back = kb.ingest()
    assert back.files_added == 1 and back.skipped == [] and kb.manifest.no_text() == {}
    assert set(kb.manifest.entries()[source].chunk_ids) == set(old_ids)


def test_a_corrupt_pdf_or_docx_fails_and_keeps_its_passages(kb: Kb) -> None:
    (kb.corpus / "it" / "wifi.pdf").write_bytes(_pdf("The guest wifi password is QuokkaNest42."))
    _docx(kb.corpus / "it" / "badges.docx", "Lost badges are replaced at the QuillonDesk kiosk.")
    kb.ingest()
    before = kb.snapshot()
    pdf, docx = kb.corpus / "it" / "wifi.pdf", kb.corpus / "it" / "badges.docx"
    pdf.write_bytes(pdf.read_bytes()[:300])  # truncated: no end-of-file marker
    docx.write_bytes(b"PK\x03\x04 not really a zip archive")
    report = kb.ingest()
    reasons = {f["path"]: f["reason"] for f in report.failed}
    assert set(reasons) == {"it/wifi.pdf", "it/badges.docx"}
    assert reasons["it/wifi.pdf"].startswith("not a readable PDF")
    assert reasons["it/badges.docx"].startswith("not a readable DOCX")
    assert report.skipped == [] and report.chunks_removed == 0
    assert kb.snapshot()["dense"] == before["dense"]
    assert kb.manifest.no_text() == {} and set(kb.manifest.failures()) == set(reasons)
    assert kb.sources("guest wifi password")[0] == "it/wifi.pdf"
    assert kb.sources("replace a lost badge")[0] == "it/badges.docx"


def test_a_file_that_turns_bad_keeps_its_indexed_version(kb: Kb) -> None:
    kb.ingest()
    before = kb.snapshot()
    vpn = kb.corpus / "it" / "vpn.txt"
    good = vpn.read_bytes()
    vpn.write_bytes(b"\x00\x01\x02binary junk" * 100)
    report = kb.ingest()
    assert report.failed == [{"path": "it/vpn.txt", "reason": "binary content, not text"}]
    assert kb.snapshot()["dense"] == before["dense"]
    assert kb.sources("QuillonConnect client")[0] == "it/vpn.txt"
    vpn.write_bytes(good + b"\nNew line about split tunnelling.\n")
    fixed = kb.ingest()
    assert fixed.failed == [] and fixed.files_updated == 1
    assert kb.manifest.failures() == {}


def test_a_redirect_page_is_found_where_it_went(kb: Kb) -> None:
    (kb.corpus / "old-canteen.md").write_text(
        "---\ntitle: Canteen menu\nredirect_to: https://intranet/food/canteen\n---\n"
    )
    report = kb.ingest()
    assert report.failed == []
    hits = kb.index.search("canteen menu", 1)
    assert hits[0].metadata["source"] == "old-canteen.md"
    assert "Canteen menu has moved to https://intranet/food/canteen" in hits[0].text


# -- one run at a time, searches meanwhile ----------------------------------------------------


def test_a_second_ingestion_is_refused_while_one_runs(kb: Kb) -> None:
    with ingest_lock(kb.index.index_dir), pytest.raises(IngestLockedError) as caught:
        kb.ingest()
    assert "Another ingestion is running" in str(caught.value)
    assert "wait for it to finish" in str(caught.value)
    assert kb.ingest().files_added == 6  # the lock was released


def test_searches_keep_working_during_ingestion(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    kb = Kb(tmp_path / "kb", corpus, embedder)
    kb.ingest()
    (corpus / "it" / "new_kettle_policy.md").write_text(
        "# Kettle policy\n\nThe zebra-striped kettle on floor 3 is for decaf only.\n"
    )
    shutil.rmtree(corpus / "product")
    errors: list[BaseException] = []
    results: list[int] = []
    done = threading.Event()

    def searcher() -> None:
        while not done.is_set():
            try:
                results.append(len(kb.index.search("annual leave carry over", 5)))
            except BaseException as err:  # noqa: BLE001 - reported by the test
                errors.append(err)
                return
            done.wait(0.05)  # a reader's pace, leaving the cores to the ingestion it overlaps

    threads = [threading.Thread(target=searcher) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        report = kb.ingest(full=True)
    finally:
        done.set()
        for t in threads:
            t.join()
    assert errors == []
    assert len(results) > 5 and all(n <= 5 for n in results)
    assert report.files_added > 25
    assert kb.sources("zebra-striped kettle decaf")[0] == "it/new_kettle_policy.md"
