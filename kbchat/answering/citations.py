"""Citation markers in an answer, mapped to the passages they name."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kbchat.answering.prompt import Passage

# [1], [1, 2], [1][3], [1-3], [Passage 2], [n=2]
_MARKER = re.compile(r"\[(?:passages?\s*|n\s*=\s*)?(\d+(?:\s*(?:[,;–-]|and)\s*\d+)*)\]", re.I)
_NUMBER = re.compile(r"\d+")
_RANGE = re.compile(r"(\d+)\s*[–-]\s*(\d+)")


@dataclass(frozen=True)
class Citation:
    """A passage the answer cites."""

    n: int
    chunk_id: str
    source: str
    section: str | None
    page: int | None
    text: str

    def to_dict(self) -> dict[str, object]:
        """The shape of ``kbchat ask --json``."""
        return {
            "n": self.n,
            "chunk_id": self.chunk_id,
            "source": self.source,
            "section": self.section,
            "page": self.page,
        }


def location(source: str, section: str | None, page: int | None) -> str:
    """Where a passage comes from, as plain text: ``source › section (page p)``.

    The one way a citation's or a search hit's place is written, in the CLI and the app alike
    (the app escapes it for Markdown itself).
    """
    text = source or "unknown source"
    if section:
        text += f" › {section}"
    if page is not None:
        text += f" (page {page})"
    return text


def cited_numbers(answer: str) -> list[int]:
    """Passage numbers cited in an answer, in order of first mention, without repeats."""
    seen: dict[int, None] = {}
    for marker in _MARKER.finditer(answer):
        body = marker.group(1)
        numbers: list[int] = []
        for start, end in _RANGE.findall(body):
            low, high = int(start), int(end)
            if 0 < high - low < 20:
                numbers.extend(range(low, high + 1))
        numbers.extend(int(n) for n in _NUMBER.findall(body))
        for n in numbers:
            seen.setdefault(n, None)
    return list(seen)


def map_citations(answer: str, passages: Sequence[Passage]) -> list[Citation]:
    """The passages an answer cites; numbers that match no passage are ignored."""
    by_number = {p.n: p for p in passages}
    return [
        Citation(
            n=n,
            chunk_id=by_number[n].hit.chunk_id,
            source=by_number[n].source,
            section=by_number[n].section,
            page=by_number[n].page,
            text=by_number[n].hit.text,
        )
        for n in cited_numbers(answer)
        if n in by_number
    ]
