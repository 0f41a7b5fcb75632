"""Documents that inflate: a zip-bomb DOCX, element floods, deep HTML, huge PDFs.

Each fails at ingestion with a reason naming the limit (and its setting), the rest of the
corpus is ingested, and what was indexed for the file before stays indexed.
"""

from __future__ import annotations

import io
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from ingest.loaders import LimitExceededError, LoaderLimits, load_document
from kbchat.knowledge import index_for, manifest_for, run_ingest
from tests.conftest import make_settings
from tests.unit.test_loaders import docx_bytes, pdf_bytes

pytestmark = [pytest.mark.security]

MAX = 10 * 1024 * 1024
BODY_OPEN = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
)
BODY_CLOSE = "</w:body></w:document>"


def with_body(docx: bytes, body: str) -> bytes:
    """A copy of a real DOCX whose ``word/document.xml`` is replaced by ``body``."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(docx)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target,
    ):
        for member in source.infolist():
            data = source.read(member.filename)
            if member.filename == "word/document.xml":
                data = (BODY_OPEN + body + BODY_CLOSE).encode()
            target.writestr(member.filename, data)
    return out.getvalue()


def zip_bomb_docx() -> bytes:
    """Under 100 KB on disk; its body inflates to 24 MB: four million empty paragraphs."""
    text = "<w:p><w:r><w:t>Quarterly figures</w:t></w:r></w:p>"
    return with_body(docx_bytes(), text + "<w:p/>" * 4_000_000)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.integration
def test_a_zip_bomb_docx_fails_with_its_limit_and_the_rest_ingests(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _write(corpus / "welcome.md", b"# Welcome\n\nReception opens at 8:30.\n")
    _write(corpus / "travel.docx", docx_bytes())
    settings = make_settings(tmp_path, corpus)
    first = run_ingest(settings)
    assert first.failed == [] and first.files_added == 2
    indexed = manifest_for(settings).entries()["travel.docx"].chunk_ids

    bomb = zip_bomb_docx()
    assert len(bomb) < 100_000
    _write(corpus / "travel.docx", bomb)  # the good file replaced by a bomb
    _write(corpus / "new.md", b"# Parking\n\nThe car park closes at 22:00.\n")
    started = time.perf_counter()
    report = run_ingest(settings)
    seconds = time.perf_counter() - started
    print(f"ingest with a {len(bomb) / 1024:.0f} KB zip-bomb DOCX: {seconds:.2f} s")

    [failed] = report.failed
    assert failed["path"] == "travel.docx"
    assert "inflates" in failed["reason"] and "KBCHAT_DOCX_MAX_RATIO" in failed["reason"]
    assert report.files_added == 1  # new.md
    entries = manifest_for(settings).entries()
    assert "new.md" in entries
    assert entries["travel.docx"].chunk_ids == indexed, "what was indexed for it stays"
    index = index_for(settings)
    texts = [text for text, _meta in index.keyword.get(list(indexed)).values()]
    assert any("Economy under 6 hours" in text for text in texts)


def _reason(path: Path, limits: LoaderLimits) -> str:
    with pytest.raises(LimitExceededError) as caught:
        load_document(path, max_bytes=MAX, limits=limits)
    return str(caught.value)


@pytest.mark.unit
def test_docx_limits_unzipped_size_ratio_and_elements(tmp_path: Path) -> None:
    bomb = _write(tmp_path / "bomb.docx", zip_bomb_docx())
    assert "KBCHAT_DOCX_MAX_RATIO" in _reason(bomb, LoaderLimits())
    reason = _reason(bomb, LoaderLimits(docx_max_unzipped_bytes=1024 * 1024))
    assert "unpacks to" in reason and "KBCHAT_DOCX_MAX_UNZIPPED_MB" in reason
    # Many paragraphs of varied text inflate little; their number is capped on its own.
    body = "".join(
        f"<w:p><w:r><w:t>line {n} {zlib.crc32(bytes(n))}</w:t></w:r></w:p>" for n in range(3000)
    )
    flood = _write(tmp_path / "flood.docx", with_body(docx_bytes(), body))
    assert load_document(flood, max_bytes=MAX).sections  # within the default limits
    reason = _reason(flood, LoaderLimits(docx_max_elements=5000))
    assert "more than 5,000 XML elements" in reason and "KBCHAT_DOCX_MAX_ELEMENTS" in reason


@pytest.mark.unit
def test_html_limits_size_elements_and_depth(tmp_path: Path) -> None:
    deep = _write(
        tmp_path / "deep.html",
        (
            "<html><body>" + "<div>" * 20_000 + "deep" + "</div>" * 20_000 + "</body></html>"
        ).encode(),
    )
    reason = _reason(deep, LoaderLimits())
    assert "nest more than 500 deep" in reason and "KBCHAT_HTML_MAX_DEPTH" in reason
    wide = _write(tmp_path / "wide.html", ("<p>x</p>" * 5_000).encode())
    assert load_document(wide, max_bytes=MAX).sections
    reason = _reason(wide, LoaderLimits(html_max_elements=1_000))
    assert "more than 1,000 elements" in reason and "KBCHAT_HTML_MAX_ELEMENTS" in reason
    reason = _reason(wide, LoaderLimits(html_max_bytes=10_000))
    assert "KBCHAT_HTML_MAX_MB" in reason


@pytest.mark.unit
def test_pdf_limits_pages_and_stream_size(tmp_path: Path) -> None:
    pages = _write(tmp_path / "pages.pdf", pdf_bytes(["one", "two", "three"]))
    assert len(load_document(pages, max_bytes=MAX).sections) == 3
    reason = _reason(pages, LoaderLimits(pdf_max_pages=2))
    assert "has 3 pages" in reason and "KBCHAT_PDF_MAX_PAGES" in reason
    long_page = _write(tmp_path / "long.pdf", pdf_bytes(["many words on one page " * 400]))
    reason = _reason(long_page, LoaderLimits(pdf_max_stream_bytes=2_000))
    assert "stream decodes to more than" in reason and "KBCHAT_PDF_MAX_STREAM_MB" in reason
