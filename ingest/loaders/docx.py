"""DOCX (python-docx): body paragraphs and tables in order, sections at headings."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.loaders.base import (
    LoadedDocument,
    LoadError,
    SectionBuilder,
    build_document,
    humanise_stem,
    render_table,
    short_reason,
)
from ingest.loaders.limits import DEFAULT_LIMITS, LoaderLimits, check_docx

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING_STYLE = re.compile(r"Heading ([1-9])")


def load(path: Path, data: bytes, limits: LoaderLimits = DEFAULT_LIMITS) -> LoadedDocument:
    """Load a Word document.

    Args:
        path: The file (its stem is the fallback title).
        data: Its bytes.
        limits: How much it may unpack to, inflate and hold (checked before parsing).

    Returns:
        The document, tables rendered as "Header: value | Header: value" lines.

    Raises:
        LoadError: Not a DOCX (or a legacy/encrypted one), or corrupt.
        NoTextError: The document has no text.
        LimitExceededError: Over one of ``limits``.
    """
    document = _open(data, limits)
    builder = SectionBuilder()
    style_title = first_heading = ""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            builder.paragraph("\n".join(render_table(_table_rows(block))))
            continue
        text = block.text.strip()
        level = _heading_level(block)
        if level is None:
            builder.paragraph(text)
        elif text:
            if level == 0:
                style_title = style_title or text
            else:
                first_heading = first_heading or text
            builder.heading(level, text)
    core_title = (document.core_properties.title or "").strip()
    title = core_title or style_title or first_heading or humanise_stem(path)
    return build_document(
        title=title, fmt="docx", sections=builder.sections(), no_text="the document has no text"
    )


def _open(data: bytes, limits: LoaderLimits) -> DocxDocument:
    if data.startswith(_OLE_MAGIC):
        raise LoadError(
            "not a readable DOCX: this is a legacy .doc or a password-protected file "
            "(save it as an unprotected .docx)"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_docx(archive, limits)
        return Document(io.BytesIO(data))
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(f"not a readable DOCX: {short_reason(exc)}") from exc


def _heading_level(paragraph: Paragraph) -> int | None:
    """0 for the Title style, N for "Heading N", None for body text."""
    name = paragraph.style.name if paragraph.style is not None else ""
    if name == "Title":
        return 0
    match = _HEADING_STYLE.fullmatch(name or "")
    return int(match.group(1)) if match else None


def _table_rows(table: Table) -> list[list[str]]:
    """Cell texts by layout column; a merged cell counts once, in its first column."""
    rows: list[list[str]] = []
    for row in table.rows:
        cells = [""] * row.grid_cols_before
        previous = None
        for cell in row.cells:
            cells.append("" if cell is previous else " ".join(cell.text.split()))
            previous = cell
        rows.append(cells)
    return rows
