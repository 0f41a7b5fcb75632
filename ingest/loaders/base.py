"""Shared types and helpers for the per-format document loaders."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

_MB = 1024 * 1024
_KB = 1024

# Characters that carry no text: zero-width marks, BOM, soft hyphen.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}
_TRANSLATION = str.maketrans(
    {
        **dict.fromkeys(_INVISIBLE, ""),
        **dict.fromkeys("\u00a0\u2007\u202f", " "),
        **dict.fromkeys("\r\x0b\x0c\u2028\u2029", "\n"),
        **_LIGATURES,
    }
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path (or one PDF page).

    Attributes:
        text: Clean text of the section, paragraphs separated by "\\n".
        heading_path: Headings above this section, outermost first; () when none.
        page: 1-based page number for PDF sections, else None.
    """

    text: str
    heading_path: tuple[str, ...]
    page: int | None = None


@dataclass(frozen=True)
class LoadedDocument:
    """The text of one file, split into sections in document order.

    Attributes:
        title: Human-readable title.
        format: Format name, a value of ``SUPPORTED_EXTENSIONS``.
        sections: Non-empty sections in document order.
        metadata: Front matter fields as strings with lower-cased keys; {} when none.
    """

    title: str
    format: str
    sections: tuple[Section, ...]
    metadata: Mapping[str, str]


class LoadError(Exception):
    """A file that cannot be ingested; str(err) is the human-readable reason (without the path)."""

    reason: str

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


NO_TEXT = "no text to index"


class NoTextError(LoadError):
    """A file that was read but has nothing to index: it is skipped, not failed.

    Unlike the other load errors it says the document is now empty (only front matter, a
    header row, a PDF without a text layer...): what was indexed for it is removed, as for a
    deleted file. The reason starts with ``NO_TEXT``, then says why in brackets when known.
    """

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"{NO_TEXT} ({detail})" if detail else NO_TEXT)

    @classmethod
    def from_reason(cls, reason: str) -> NoTextError:
        """The error whose reason is ``reason`` (one raised in a parser process, rebuilt)."""
        error = cls()
        LoadError.__init__(error, reason)
        return error


def read_file(path: Path, max_bytes: int) -> bytes:
    """Read a file's bytes after checking that it is a readable, non-empty, small enough file.

    Args:
        path: The file to read.
        max_bytes: The largest size accepted.

    Returns:
        The file's content.

    Raises:
        LoadError: The path is missing, unreadable, not a regular file or too large.
        NoTextError: The file is empty (0 bytes).
    """
    try:
        info = path.stat()
    except OSError as exc:
        raise LoadError(f"cannot read file: {os_reason(exc)}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise LoadError("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise LoadError("not a regular file")
    _check_size(info.st_size, max_bytes)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)  # the file may have grown since stat()
    except OSError as exc:
        raise LoadError(f"cannot read file: {os_reason(exc)}") from exc
    _check_size(len(data), max_bytes)
    return data


def _check_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise NoTextError("the file is empty")
    if size > max_bytes:
        raise LoadError(
            f"file is {format_size(size, round_up=True)}, "
            f"over the {format_size(max_bytes)} limit (KBCHAT_MAX_FILE_MB)"
        )


def format_size(size: int, *, round_up: bool = False) -> str:
    """Format a byte count as "12.3 MB" (or KB, or bytes for small sizes).

    Args:
        size: Number of bytes.
        round_up: Round up to the next tenth, so a size just over a limit never prints as equal.

    Returns:
        The formatted size.
    """
    for unit, name in ((_MB, "MB"), (_KB, "KB")):
        if size * 10 >= unit:
            tenths = -(-size * 10 // unit) if round_up else round(size * 10 / unit)
            return f"{tenths / 10:.1f} {name}"
    return f"{size} bytes"


def os_reason(exc: OSError) -> str:
    """The OS's description of an error, e.g. "No such file or directory"."""
    return exc.strerror or short_reason(exc)


def short_reason(exc: BaseException, limit: int = 160) -> str:
    """A one-line, bounded description of a library exception.

    Args:
        exc: The exception.
        limit: Maximum number of characters.

    Returns:
        The first line of the message, or the exception's class name when it has none.
    """
    lines = str(exc).strip().splitlines()
    message = lines[0].strip() if lines else ""
    if not message:
        return type(exc).__name__
    return message if len(message) <= limit else message[: limit - 1] + "…"


def clean_text(text: str) -> str:
    """Normalise extracted text: no invisible or control characters, no blank lines.

    Args:
        text: Raw extracted text.

    Returns:
        The text with trailing whitespace and empty lines removed, lines joined by "\\n".
    """
    text = _CONTROL.sub("", text.translate(_TRANSLATION))
    lines = (line.rstrip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line.strip())


def humanise_stem(path: Path) -> str:
    """A title made from a file name: "annual_leave-policy.md" -> "Annual leave policy"."""
    words = re.sub(r"[\s_\-]+", " ", path.stem).strip()
    if not words:
        return path.name
    return words[0].upper() + words[1:]


def render_row(header: Sequence[str], row: Sequence[str]) -> str:
    """Render one table row as "Header: value | Header: value", skipping empty cells.

    Args:
        header: Column names; a missing or empty name leaves the value on its own.
        row: Cell values.

    Returns:
        The rendered row; "" when every cell is empty.
    """
    parts: list[str] = []
    for index, raw in enumerate(row):
        value = " ".join(raw.split())
        if not value:
            continue
        name = " ".join(header[index].split()) if index < len(header) else ""
        parts.append(f"{name}: {value}" if name else value)
    return " | ".join(parts)


def render_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Render a table whose first row is the header, one line per data row.

    Args:
        rows: The table's rows of cell texts.

    Returns:
        One line per non-empty data row; a header-only table gives its cells as one line.
    """
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    if not body:
        line = render_row((), header)
        return [line] if line else []
    return [line for row in body if (line := render_row(header, row))]


class SectionBuilder:
    """Collects paragraphs into sections, starting a new section at each heading."""

    def __init__(self) -> None:
        """Start with no heading and no text."""
        self._stack: list[tuple[int, str]] = []
        self._paragraphs: list[str] = []
        self._sections: list[Section] = []

    def heading(self, level: int, text: str) -> None:
        """Close the current section and open one under a heading of this level.

        Args:
            level: Heading level; lower is outer (0 for a document title, 1 for "Heading 1").
            text: Heading text; an empty heading only closes the current section.
        """
        self._flush()
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        text = " ".join(text.split())
        if text:
            self._stack.append((level, text))

    def paragraph(self, text: str) -> None:
        """Add a paragraph (or several, "\\n"-separated) to the current section."""
        if text.strip():
            self._paragraphs.append(text)

    def sections(self) -> list[Section]:
        """The sections collected so far, in order, none empty."""
        self._flush()
        return list(self._sections)

    def _flush(self) -> None:
        text = clean_text("\n".join(self._paragraphs))
        self._paragraphs.clear()
        if text:
            self._sections.append(Section(text, tuple(name for _, name in self._stack)))


def build_document(
    *,
    title: str,
    fmt: str,
    sections: Iterable[Section],
    metadata: Mapping[str, str] | None = None,
    no_text: str = "",
) -> LoadedDocument:
    """Assemble a LoadedDocument, dropping empty sections.

    Args:
        title: Document title.
        fmt: Format name.
        sections: Sections in document order.
        metadata: Front matter fields, if any.
        no_text: Why the file may have no text ("only front matter"), for the reason.

    Returns:
        The document.

    Raises:
        NoTextError: No section has any text.
    """
    kept = tuple(section for section in sections if section.text.strip())
    if not kept:
        raise NoTextError(no_text)
    return LoadedDocument(
        title=" ".join(title.split()),
        format=fmt,
        sections=kept,
        metadata=MappingProxyType(dict(metadata or {})),
    )
