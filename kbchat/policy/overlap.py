"""Whether a text repeats any part of other texts: word shingles, in linear time.

The gate's last check uses it to find withheld (confidential) text anywhere in an outgoing
prompt, not only its beginning: every run of `SHINGLE_WORDS` consecutive words of a withheld
text is remembered (as a hash), and the prompt's own runs are looked up one by one. Both
sides are normalised first (Unicode NFKC, case folded, punctuation and spacing reduced to
single spaces), so re-wrapping, a changed quote mark or a full-width digit does not hide a
copy. Building is linear in the withheld text, a check linear in the prompt.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

SHINGLE_WORDS = 8
"""Words in a run: long enough that ordinary phrasing does not match by chance."""
MIN_WORDS = 4
"""A withheld text shorter than a run counts whole, if it has at least this many words."""

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The text's words, normalised (NFKC, case folded; punctuation and spaces dropped)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _runs(tokens: Sequence[str], size: int) -> Iterable[tuple[str, ...]]:
    for start in range(len(tokens) - size + 1):
        yield tuple(tokens[start : start + size])


class Shingles:
    """The word runs of some texts, to tell whether another text repeats any of them.

    Args:
        texts: the texts to look for (e.g. the passages kept from the cloud).
        ignore: texts whose runs never count (e.g. the fixed instructions every prompt
            holds), so that a withheld passage quoting them does not stop every request.
        size: words per run.
    """

    def __init__(
        self, texts: Iterable[str], *, ignore: Iterable[str] = (), size: int = SHINGLE_WORDS
    ) -> None:
        self.size = size
        self._runs: dict[int, set[tuple[str, ...]]] = {}
        ignored: set[tuple[str, ...]] = set()
        for text in ignore:
            tokens = words(text)
            for length in {size, *range(MIN_WORDS, size)}:
                ignored.update(_runs(tokens, length))
        for text in texts:
            tokens = words(text)
            if len(tokens) < MIN_WORDS:
                continue
            length = min(size, len(tokens))
            found = {run for run in _runs(tokens, length) if run not in ignored}
            if found:
                self._runs.setdefault(length, set()).update(found)

    def __bool__(self) -> bool:
        return bool(self._runs)

    def found_in(self, text: str) -> bool:
        """Whether ``text`` holds any remembered run (after the same normalisation)."""
        if not self._runs:
            return False
        tokens = words(text)
        for length, runs in self._runs.items():
            if any(run in runs for run in _runs(tokens, length)):
                return True
        return False
