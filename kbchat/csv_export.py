"""CSV export that spreadsheets open safely: text never runs as a formula."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _plain(value: Any) -> Any:
    """Lists and mappings as compact JSON, so that a CSV field holds text."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def _cell(value: Any) -> str:
    """A CSV field that a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, int | float):
        return str(value)  # a number, negative ones included, stays a number
    text = "" if value is None else str(_plain(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Rows as CSV (UTF-8 with a byte order mark, for spreadsheets), header from the keys.

    Text that starts like a spreadsheet formula (``=``, ``+``, ``-``, ``@``) is prefixed with
    ``'``: questions and document text are not trusted.
    """
    buffer = io.StringIO()
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return buffer.getvalue().encode("utf-8-sig")
