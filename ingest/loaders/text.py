"""Plain text: paragraphs separated by blank lines, hard-wrapped lines joined."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders.base import LoadedDocument, Section, build_document, humanise_stem
from ingest.textio import read_text

_MAX_TITLE_CHARS = 80
_WRAPPED_LINE_CHARS = 40  # a shorter line ends on purpose (addresses, key: value lists)
_LIST_ITEM = re.compile(r"^([-*+•]|\d+[.)]|[a-zA-Z][.)])\s")


def load(path: Path, data: bytes) -> LoadedDocument:
    """Load a plain text file as one section of paragraphs.

    Args:
        path: The file (its stem is the fallback title).
        data: Its bytes.

    Returns:
        The document.

    Raises:
        LoadError: Binary or undecodable content.
        NoTextError: Only blank space.
    """
    paragraphs = _paragraphs(read_text(path, data))
    title = humanise_stem(path)
    if paragraphs and len(paragraphs[0]) == 1 and _looks_like_title(paragraphs[0][0]):
        title = paragraphs[0][0]
    text = "\n".join(line for paragraph in paragraphs for line in _unwrap(paragraph))
    return build_document(
        title=title, fmt="text", sections=[Section(text, ())], no_text="only blank space"
    )


def _paragraphs(text: str) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for raw in text.split("\n"):
        line = " ".join(raw.split())
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [paragraph for paragraph in paragraphs if paragraph]


def _looks_like_title(line: str) -> bool:
    return (
        len(line) <= _MAX_TITLE_CHARS
        and not line.endswith((".", ",", ";", ":"))
        and any(char.isalpha() for char in line)
    )


def _unwrap(lines: list[str]) -> list[str]:
    """Join the lines of a hard-wrapped paragraph; keep list items and short lines apart."""
    out: list[str] = []
    previous = ""
    for line in lines:
        if out and len(previous) >= _WRAPPED_LINE_CHARS and not _LIST_ITEM.match(line):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
        previous = line
    return out
