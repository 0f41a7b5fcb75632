"""Unit tests for ingest.loaders: real files of every format, built in tmp_path."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from docx import Document
from fpdf import FPDF
from pypdf import PdfWriter

from ingest.loaders import (
    SUPPORTED_EXTENSIONS,
    LoadedDocument,
    LoadError,
    NoTextError,
    Section,
    load_document,
)

pytestmark = pytest.mark.unit

MB = 1024 * 1024
LIMIT = 10 * MB
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06"


def load(path: Path, max_bytes: int = LIMIT) -> LoadedDocument:
    return load_document(path, max_bytes=max_bytes)


def failure(path: Path, max_bytes: int = LIMIT) -> str:
    """The reason load_document gives for refusing a file (a failure, not an empty file)."""
    with pytest.raises(LoadError) as caught:
        load(path, max_bytes)
    assert caught.value.reason == str(caught.value)
    assert not isinstance(caught.value, NoTextError), f"no text, not a failure: {caught.value}"
    return str(caught.value)


def no_text(path: Path) -> str:
    """The reason load_document gives for a file that has nothing to index."""
    with pytest.raises(NoTextError) as caught:
        load(path)
    assert caught.value.reason == str(caught.value)
    return str(caught.value)


def write(directory: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = directory / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def pdf_bytes(pages: list[str], title: str | None = None) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    if title is not None:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def encrypted(data: bytes, password: str) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


THREE_PAGES = [
    "Leave policy\nPage one: annual leave.",
    "Page two: sick leave.",
    "Page three: travel.",
]


# --- every format: file checks and dispatch ---------------------------------------------


def test_supported_extensions() -> None:
    assert SUPPORTED_EXTENSIONS == {
        ".md": "markdown",
        ".markdown": "markdown",
        ".txt": "text",
        ".pdf": "pdf",
        ".docx": "docx",
        ".html": "html",
        ".htm": "html",
        ".csv": "csv",
    }


def test_unsupported_extension(tmp_path: Path) -> None:
    assert failure(write(tmp_path, "slides.xyz", "x")) == "unsupported file type .xyz"
    assert failure(write(tmp_path, "Makefile", "x")) == "unsupported file type (no extension)"


def test_extension_is_case_insensitive(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "NOTES.MD", "# Notes\nBody."))
    assert (doc.format, doc.title) == ("markdown", "Notes")


def test_missing_file(tmp_path: Path) -> None:
    assert failure(tmp_path / "gone.txt") == "cannot read file: No such file or directory"


def test_broken_symlink(tmp_path: Path) -> None:
    (tmp_path / "y.txt").symlink_to(tmp_path / "nowhere.txt")
    assert failure(tmp_path / "y.txt") == "cannot read file: No such file or directory"


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "x.md").mkdir()
    assert failure(tmp_path / "x.md") == "is a directory, not a file"


def test_fifo_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    assert failure(tmp_path / "pipe.txt") == "not a regular file"


@pytest.mark.parametrize("name", ["empty.md", "empty.txt", "empty.pdf", "empty.docx", "e.csv"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    assert no_text(write(tmp_path, name, b"")) == "no text to index (the file is empty)"


def test_oversized_file(tmp_path: Path) -> None:
    big = tmp_path / "big.pdf"
    with big.open("wb") as handle:  # sparse: the size check comes before any read
        handle.truncate(int(12.25 * MB) + 1)
    assert failure(big) == "file is 12.3 MB, over the 10.0 MB limit (KBCHAT_MAX_FILE_MB)"
    small = write(tmp_path, "small.txt", "a" * 3000)
    assert failure(small, 1024) == "file is 3.0 KB, over the 1.0 KB limit (KBCHAT_MAX_FILE_MB)"


def test_whitespace_only_file(tmp_path: Path) -> None:
    assert (
        no_text(write(tmp_path, "blank.txt", " \n\t\n  ")) == "no text to index (only blank space)"
    )
    assert no_text(write(tmp_path, "blank.md", "\n  \n")) == "no text to index (only blank space)"


def test_unexpected_library_error_becomes_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.loaders import csv as csv_loader

    def explode(*_: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(csv_loader, "render_row", explode)
    path = write(tmp_path, "t.csv", "a,b\n1,2\n")
    assert failure(path) == "cannot read this csv file: RuntimeError: boom"


# --- markdown ---------------------------------------------------------------------------

POLICY_MD = """\
---
title: Annual leave policy
Sensitivity: Confidential
owner: HR
tags: [hr, leave]
reviewed: 2024-01-05
public: false
---
Applies to all staff.
<!-- TODO: check the numbers
with payroll -->

# Annual leave
Everyone gets 25 days.
Days accrue monthly.

Part-timers pro rata.

## Carrying over days
Up to 5 days carry over.

[Back to top](#top)

### Approval ###
Your manager approves.

#### Exceptions
Ask HR.

Sick leave
----------
See the sick leave page.

```text
# not a heading
```
"""


def test_markdown_front_matter_sections_and_noise(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "leave.md", POLICY_MD))
    assert doc.title == "Annual leave policy"
    assert doc.format == "markdown"
    assert dict(doc.metadata) == {
        "title": "Annual leave policy",
        "sensitivity": "Confidential",
        "owner": "HR",
        "tags": "hr, leave",
        "reviewed": "2024-01-05",
        "public": "false",
    }
    assert doc.sections == (
        Section("Applies to all staff.", ()),
        Section(
            "Everyone gets 25 days.\nDays accrue monthly.\nPart-timers pro rata.",
            ("Annual leave",),
        ),
        Section("Up to 5 days carry over.", ("Annual leave", "Carrying over days")),
        Section(
            "Your manager approves.\nExceptions\nAsk HR.",
            ("Annual leave", "Carrying over days", "Approval"),
        ),
        Section(
            "See the sick leave page.\n```text\n# not a heading\n```",
            ("Annual leave", "Sick leave"),
        ),
    )
    text = "\n".join(section.text for section in doc.sections)
    assert "TODO" not in text and "Back to top" not in text and "---" not in text


def test_markdown_title_from_first_h1(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "x.md", "Intro.\n\n# **Expenses** guide\n\nClaim monthly.\n"))
    assert doc.title == "Expenses guide"
    assert doc.metadata == {}
    assert [s.heading_path for s in doc.sections] == [(), ("Expenses guide",)]


def test_markdown_title_from_stem(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "annual_leave-policy.md", "## Scope\nEveryone.\n"))
    assert doc.title == "Annual leave policy"
    assert doc.sections == (Section("Everyone.", ("Scope",)),)


def test_markdown_crlf_and_bom(tmp_path: Path) -> None:
    content = "\ufeff---\r\ntitle: Hybrid work\r\n---\r\n# Rules\r\nTwo days.\r\n"
    doc = load(write(tmp_path, "hybrid.md", content))
    assert (doc.title, doc.sections) == ("Hybrid work", (Section("Two days.", ("Rules",)),))


def test_markdown_noise_lines(tmp_path: Path) -> None:
    content = "[TOC]\n\n# Guide\nStep one.\n\n***\n\n<a href='#top'>↑ Back to top</a>\nStep two.\n"
    doc = load(write(tmp_path, "guide.md", content))
    assert doc.sections == (Section("Step one.\nStep two.", ("Guide",)),)


def test_markdown_invalid_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.md", "---\ntitle: Leave\nowner: HR: People\n---\n# Body\ntext\n")
    assert (
        failure(path) == "invalid YAML front matter: mapping values are not allowed here (line 3)"
    )


def test_markdown_front_matter_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "list.md", "---\n- confidential\n- hr\n---\ntext\n")
    reason = "invalid YAML front matter: expected 'key: value' lines, got a list"
    assert failure(path) == reason


def test_markdown_front_matter_not_closed(tmp_path: Path) -> None:
    path = write(tmp_path, "open.md", "---\nsensitivity: confidential\n# Body\ntext\n")
    assert failure(path) == "invalid YAML front matter: no closing '---' line"


def test_markdown_front_matter_bad_date(tmp_path: Path) -> None:
    path = write(tmp_path, "date.md", "---\nreviewed: 2024-13-45\n---\ntext\n")
    assert failure(path).startswith("invalid YAML front matter: month must be in 1..12")


def test_markdown_only_front_matter(tmp_path: Path) -> None:
    path = write(tmp_path, "meta.md", "---\ntitle: Nothing here\n---\n\n<!-- draft -->\n")
    assert no_text(path) == "no text to index (only front matter)"


def test_markdown_redirect_page_is_one_passage(tmp_path: Path) -> None:
    content = "---\ntitle: Travel  policy\nredirect_to: https://intranet/travel\n---\n\n"
    doc = load(write(tmp_path, "old-travel.md", content))
    assert doc.title == "Travel policy"
    assert doc.sections == (Section("Travel policy has moved to https://intranet/travel", ()),)
    assert doc.metadata["redirect_to"] == "https://intranet/travel"


def test_markdown_redirect_title_from_file_name(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "old_expenses.md", "---\nredirect_to: /finance/expenses\n---\n"))
    assert doc.sections == (Section("Old expenses has moved to /finance/expenses", ()),)


def test_markdown_redirect_page_with_text_keeps_its_text(tmp_path: Path) -> None:
    content = "---\nredirect_to: /new\n---\n# Moved\nSee the new page.\n"
    doc = load(write(tmp_path, "old.md", content))
    assert doc.sections == (Section("See the new page.", ("Moved",)),)


# --- plain text and encodings -------------------------------------------------------------


def test_text_cp1252(tmp_path: Path) -> None:
    content = (
        "Expenses policy\r\n\r\n"
        "Meals cost up to £25 per day, and the “client dinner” rule applies.\r\n"
        "Café receipts must be itemised.\r\n"
    )
    doc = load(write(tmp_path, "expenses.txt", content, encoding="cp1252"))
    assert doc.title == "Expenses policy"
    assert doc.sections == (
        Section(
            "Expenses policy\n"
            "Meals cost up to £25 per day, and the “client dinner” rule applies. "
            "Café receipts must be itemised.",
            (),
        ),
    )


def test_text_utf16_with_bom(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "notes.txt", "Résumé tips\n\nKeep it short.\n", encoding="utf-16"))
    assert doc.title == "Résumé tips"
    assert doc.sections[0].text == "Résumé tips\nKeep it short."


def test_text_utf8_bom_and_old_mac_line_endings(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "mac.txt", "\ufeffOne.\rTwo.\r", encoding="utf-8"))
    assert doc.sections[0].text == "One.\nTwo."


def test_text_title_from_stem_and_paragraphs(tmp_path: Path) -> None:
    content = (
        "This handbook explains how we work together and what you can\n"
        "expect from the company in your first weeks.\n\n"
        "Checklist:\n- laptop\n- badge\n"
    )
    doc = load(write(tmp_path, "new_starter-handbook.txt", content))
    assert doc.title == "New starter handbook"
    assert doc.sections[0].text == (
        "This handbook explains how we work together and what you can expect from the "
        "company in your first weeks.\nChecklist:\n- laptop\n- badge"
    )


def test_text_binary_content(tmp_path: Path) -> None:
    assert failure(write(tmp_path, "image.txt", PNG_BYTES)) == "binary content, not text"
    controls = write(tmp_path, "controls.txt", bytes(range(1, 9)) * 50)
    assert failure(controls) == "binary content, not text"


def test_text_undetectable_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, "odd.txt", bytes(range(0x80, 0x100)) * 20)
    assert failure(path) == "cannot detect the text encoding"
    broken_utf16 = write(tmp_path, "odd16.txt", b"\xff\xfeA")
    assert failure(broken_utf16) == "cannot detect the text encoding"


# --- PDF ----------------------------------------------------------------------------------


def test_pdf_pages(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "leave.pdf", pdf_bytes(THREE_PAGES)))
    assert doc.title == "Leave policy"
    assert doc.format == "pdf"
    assert doc.sections == (
        Section("Leave policy\nPage one: annual leave.", (), page=1),
        Section("Page two: sick leave.", (), page=2),
        Section("Page three: travel.", (), page=3),
    )


def test_pdf_skips_empty_pages(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "gap.pdf", pdf_bytes(["First.", "", "Third."])))
    assert [(s.page, s.text) for s in doc.sections] == [(1, "First."), (3, "Third.")]


def test_pdf_title_from_metadata(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "t.pdf", pdf_bytes(["Body text"], title="Travel Guide 2024")))
    assert doc.title == "Travel Guide 2024"


def test_pdf_junk_metadata_title_is_ignored(tmp_path: Path) -> None:
    data = pdf_bytes(["Travel guide\nBody"], title="Microsoft Word - travel.docx")
    assert load(write(tmp_path, "t.pdf", data)).title == "Travel guide"


def test_pdf_encrypted_with_password(tmp_path: Path) -> None:
    path = write(tmp_path, "locked.pdf", encrypted(pdf_bytes(THREE_PAGES), "s3cret"))
    assert failure(path) == "PDF is encrypted (password protected)"


def test_pdf_encrypted_with_empty_password_loads(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "open.pdf", encrypted(pdf_bytes(THREE_PAGES), "")))
    assert [s.page for s in doc.sections] == [1, 2, 3]
    assert doc.sections[1].text == "Page two: sick leave."


def test_pdf_truncated(tmp_path: Path) -> None:
    data = pdf_bytes(THREE_PAGES)
    path = write(tmp_path, "cut.pdf", data[: len(data) // 2])
    assert failure(path) == "not a readable PDF: truncated (no end-of-file marker)"


def test_pdf_corrupt(tmp_path: Path) -> None:
    path = write(tmp_path, "junk.pdf", b"%PDF-1.7\nthis is not a pdf body\n%%EOF\n")
    assert failure(path).startswith("not a readable PDF: ")


def test_pdf_not_a_pdf(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.pdf", "just some text")
    assert failure(path) == "not a readable PDF: no PDF header (is it really a PDF?)"


def test_pdf_without_text(tmp_path: Path) -> None:
    path = write(tmp_path, "scan.pdf", pdf_bytes([""]))
    assert no_text(path) == "no text to index (no text layer: a scanned PDF?)"


# --- DOCX ---------------------------------------------------------------------------------


def docx_bytes(core_title: str = "", with_title_style: bool = True) -> bytes:
    document = Document()
    document.core_properties.title = core_title
    if with_title_style:
        document.add_heading("Travel policy", level=0)
    document.add_paragraph("Read before booking.")
    document.add_heading("Flights", level=1)
    document.add_paragraph("Economy under 6 hours.")
    table = document.add_table(rows=3, cols=3)
    for row, values in zip(
        table.rows,
        [
            ("Grade", "Class", "Notes"),
            ("Staff", "Economy", ""),
            ("Director", "Business", "Long haul"),
        ],
        strict=True,
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_paragraph("Book through the portal.")
    document.add_heading("Refunds", level=2)
    document.add_paragraph("Claim within 30 days.")
    document.add_heading("Hotels", level=1)
    document.add_paragraph("Up to £150 a night.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_headings_and_tables_in_order(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "travel.docx", docx_bytes()))
    assert doc.title == "Travel policy"
    assert doc.format == "docx"
    assert doc.sections == (
        Section("Read before booking.", ("Travel policy",)),
        Section(
            "Economy under 6 hours.\n"
            "Grade: Staff | Class: Economy\n"
            "Grade: Director | Class: Business | Notes: Long haul\n"
            "Book through the portal.",
            ("Travel policy", "Flights"),
        ),
        Section("Claim within 30 days.", ("Travel policy", "Flights", "Refunds")),
        Section("Up to £150 a night.", ("Travel policy", "Hotels")),
    )


def test_docx_title_sources(tmp_path: Path) -> None:
    core = load(write(tmp_path, "a.docx", docx_bytes(core_title="Travel Policy v3")))
    assert core.title == "Travel Policy v3"
    heading = load(write(tmp_path, "b.docx", docx_bytes(with_title_style=False)))
    assert heading.title == "Flights"
    assert heading.sections[0] == Section("Read before booking.", ())
    document = Document()
    document.add_paragraph("Only body text.")
    document.save(str(tmp_path / "travel_faq.docx"))
    assert load(tmp_path / "travel_faq.docx").title == "Travel faq"


def test_docx_plain_text_file(tmp_path: Path) -> None:
    path = write(tmp_path, "fake.docx", "I am not a Word document.")
    assert failure(path) == "not a readable DOCX: File is not a zip file"


def test_docx_legacy_or_protected(tmp_path: Path) -> None:
    path = write(tmp_path, "old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    assert failure(path) == (
        "not a readable DOCX: this is a legacy .doc or a password-protected file "
        "(save it as an unprotected .docx)"
    )


def test_docx_zip_without_document(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert failure(write(tmp_path, "z.docx", buffer.getvalue())).startswith("not a readable DOCX: ")


def test_docx_without_text(tmp_path: Path) -> None:
    document = Document()
    document.add_paragraph("   ")
    document.save(str(tmp_path / "blank.docx"))
    assert no_text(tmp_path / "blank.docx") == "no text to index (the document has no text)"


# --- HTML ---------------------------------------------------------------------------------

INTRANET_PAGE = """<!DOCTYPE html>
<html><head><title>Remote work | Intranet</title>
<style>body { color: red; }</style>
<script>var tracking = "SECRET_SCRIPT";</script></head>
<body class="page has-sidebar">
<header class="site-header"><a href="/">Intranet home</a></header>
<nav><ul><li>MENU_ITEM_ONE</li><li>MENU_ITEM_TWO</li></ul></nav>
<div id="cookie-banner">We use cookies. <button>Accept all</button></div>
<div class="breadcrumbs">Home &gt; HR &gt; Remote work</div>
<main>
<article>
<header><h1>Remote work</h1></header>
<p>You may work remotely <b>two days</b> a week.</p>
<!-- editor note: HIDDEN_COMMENT -->
<h2>Equipment</h2>
<p>Laptop&nbsp;and headset<br>are provided.</p>
<table><tr><th>Item</th><th>Budget</th></tr><tr><td>Chair</td><td>&pound;200</td></tr></table>
<h3>Returns</h3>
<ul><li>Return kit when you leave.</li><li>Use the prepaid label.</li></ul>
<div style="display: none">HIDDEN_STYLE</div>
<h2>Security</h2>
<p>Use the VPN.</p>
</article>
</main>
<aside>RELATED_LINKS</aside>
<form><input name="q"> SEARCH_FORM</form>
<footer>© Company FOOTER_TEXT</footer>
<noscript>NOSCRIPT_TEXT</noscript>
</body></html>
"""


def test_html_sections_without_page_chrome(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "remote.html", INTRANET_PAGE))
    assert doc.title == "Remote work | Intranet"
    assert doc.format == "html"
    assert doc.sections == (
        Section("You may work remotely two days a week.", ("Remote work",)),
        Section(
            "Laptop and headset\nare provided.\nItem: Chair | Budget: £200",
            ("Remote work", "Equipment"),
        ),
        Section(
            "Return kit when you leave.\nUse the prepaid label.",
            ("Remote work", "Equipment", "Returns"),
        ),
        Section("Use the VPN.", ("Remote work", "Security")),
    )
    text = "\n".join(section.text for section in doc.sections)
    for noise in ("SECRET", "MENU_ITEM", "cookies", "Home >", "Intranet home", "HIDDEN", "<"):
        assert noise not in text
    for noise in ("RELATED", "SEARCH_FORM", "FOOTER", "NOSCRIPT", "color"):
        assert noise not in text


def test_html_title_fallbacks(tmp_path: Path) -> None:
    h1 = load(write(tmp_path, "a.htm", "<body><p>Intro</p><h1>Benefits</h1><p>Gym.</p></body>"))
    assert h1.title == "Benefits"
    assert h1.sections == (Section("Intro", ()), Section("Gym.", ("Benefits",)))
    stem = load(write(tmp_path, "pension_faq.html", "<p>Ask payroll.</p>"))
    assert stem.title == "Pension faq"


def test_html_without_text(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.html", "<html><body><nav>Menu</nav><script>x()</script></body>")
    assert no_text(path) == "no text to index (no body text)"


# --- CSV ----------------------------------------------------------------------------------


def test_csv_semicolon(tmp_path: Path) -> None:
    content = "Name;Role;Phone\nAda Lovelace;Engineer;123\nAlan Turing;;456\n;;\n"
    doc = load(write(tmp_path, "team_contacts.csv", content))
    assert doc.title == "Team contacts"
    assert doc.format == "csv"
    assert doc.sections == (
        Section(
            "Name: Ada Lovelace | Role: Engineer | Phone: 123\nName: Alan Turing | Phone: 456",
            ("Team contacts",),
        ),
    )


def test_csv_tab_and_quoted_commas(tmp_path: Path) -> None:
    content = 'City\tNote\n"Paris, FR"\tHQ\nLyon\t"Site, ""B"""\n'
    doc = load(write(tmp_path, "sites.csv", content))
    assert doc.sections[0].text == 'City: Paris, FR | Note: HQ\nCity: Lyon | Note: Site, "B"'


def test_csv_sections_of_forty_rows(tmp_path: Path) -> None:
    rows = "".join(f"{number},item {number}\n" for number in range(1, 86))
    doc = load(write(tmp_path, "stock.csv", "Id,Label\n" + rows))
    assert [len(s.text.split("\n")) for s in doc.sections] == [40, 40, 5]
    assert {s.heading_path for s in doc.sections} == {("Stock",)}
    assert doc.sections[2].text.split("\n")[-1] == "Id: 85 | Label: item 85"


def test_csv_header_only(tmp_path: Path) -> None:
    reason = "no text to index (a header row but no data rows)"
    assert no_text(write(tmp_path, "h.csv", "Name;Role;Phone\n")) == reason
    assert no_text(write(tmp_path, "blank.csv", ",,\n\n , ,\n")) == "no text to index (no rows)"


def test_csv_binary(tmp_path: Path) -> None:
    assert failure(write(tmp_path, "data.csv", PNG_BYTES)) == "binary content, not text"
