"""CSV: one "Header: value | Header: value" line per row, 40 rows per section."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ingest.loaders.base import (
    LoadedDocument,
    LoadError,
    NoTextError,
    Section,
    build_document,
    humanise_stem,
    render_row,
    short_reason,
)
from ingest.textio import read_text

ROWS_PER_SECTION = 40
_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 16384


def load(path: Path, data: bytes) -> LoadedDocument:
    """Load a CSV table whose first row is the header.

    Args:
        path: The file; its humanised stem is the title and every section's heading.
        data: Its bytes.

    Returns:
        The document, sections of up to ROWS_PER_SECTION rendered rows.

    Raises:
        LoadError: Undecodable or malformed content.
        NoTextError: No rows, or a header row and no data rows.
    """
    text = read_text(path, data)
    title = humanise_stem(path)
    rows = _read_rows(text)
    if not rows:
        raise NoTextError("no rows")
    width = max(len(row) for row in rows)
    header = [" ".join(name.split()) or f"Column {index + 1}" for index, name in enumerate(rows[0])]
    header += [f"Column {index + 1}" for index in range(len(header), width)]
    lines = [line for row in rows[1:] if (line := render_row(header, row))]
    if not lines:
        raise NoTextError("a header row but no data rows")
    sections = [
        Section("\n".join(lines[start : start + ROWS_PER_SECTION]), (title,))
        for start in range(0, len(lines), ROWS_PER_SECTION)
    ]
    return build_document(title=title, fmt="csv", sections=sections)


def _read_rows(text: str) -> list[list[str]]:
    """All rows with at least one non-empty cell."""
    try:
        reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
        return [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise LoadError(f"not a readable CSV: {short_reason(exc)}") from exc


def _delimiter(text: str) -> str:
    sample = text[:_SNIFF_CHARS]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first_line = sample.lstrip("\n").split("\n", 1)[0]
        return max(_DELIMITERS, key=first_line.count) if first_line else ","
