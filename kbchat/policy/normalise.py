"""Text normalised for matching, with a map back to the original characters.

Redaction patterns run on a normalised copy of the text (Unicode NFKC, every dash a ``-``,
every kind of space a plain space, invisible format characters dropped) so that a full-width
at-sign, an en dash or a non-breaking space cannot hide a value; replacements are then made on
the original text, at the characters the match came from.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

# Dashes NFKC keeps as they are (it maps the full-width and small hyphen-minus itself).
DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u2e3a\u2e3b\ufe58")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@lru_cache(maxsize=4096)
def normalise_char(char: str) -> str:
    """What one character becomes for matching (possibly several characters, or none)."""
    if char in DASHES:
        return "-"
    category = unicodedata.category(char)
    if category == "Zs":  # every space separator, the non-breaking ones too
        return " "
    if category == "Cf":  # zero-width spaces and joiners, soft hyphens, bidi marks
        return ""
    folded = unicodedata.normalize("NFKC", char)
    return "".join("-" if c in DASHES else " " if c.isspace() and c != "\n" else c for c in folded)


@dataclass(frozen=True)
class Normalised:
    """A normalised text and where each of its characters came from in the original.

    Attributes:
        text: the normalised text.
        original: the text it was made from.
        changes: one ``(normalised start, normalised width, original position)`` per original
            character that normalisation changed, in order (width 0: the character was dropped).
    """

    text: str
    original: str
    changes: tuple[tuple[int, int, int], ...] = ()

    def origin(self, pos: int) -> int:
        """The position in the original of the character that became ``text[pos]``."""
        if not self.changes:
            return pos
        i = bisect_right(self.changes, (pos, len(self.text) + 1, len(self.original) + 1)) - 1
        if i < 0:
            return pos
        start, width, original = self.changes[i]
        if pos < start + width:
            return original
        return original + 1 + (pos - start - width)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span that the normalised span ``[start, end)`` came from."""
        if end <= start:
            at = self.origin(start) if start < len(self.text) else len(self.original)
            return at, at
        return self.origin(start), self.origin(end - 1) + 1


def normalise(text: str) -> Normalised:
    """Normalise ``text`` for matching, keeping the map back to it.

    Linear in the length of the text: only characters outside ASCII are looked at one by one.
    """
    if text.isascii():
        return Normalised(text, text)
    pieces: list[str] = []
    changes: list[tuple[int, int, int]] = []
    last = 0
    length = 0
    for match in _NON_ASCII.finditer(text):
        pos = match.start()
        char = match.group(0)
        replacement = normalise_char(char)
        if replacement == char:
            continue
        pieces.append(text[last:pos])
        length += pos - last
        changes.append((length, len(replacement), pos))
        pieces.append(replacement)
        length += len(replacement)
        last = pos + 1
    if not changes:
        return Normalised(text, text)
    pieces.append(text[last:])
    return Normalised("".join(pieces), text, tuple(changes))
