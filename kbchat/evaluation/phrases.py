"""Key-phrase matching: does an answer contain each expected phrase, however it is written?

Both the answer and the phrase are normalised the same way, then the phrase must occur in the
answer on word boundaries:

- lower-cased; curly apostrophes made straight;
- hyphens, en and em dashes become spaces ("twenty-five" → "twenty five", "QC-309" → "qc 309");
- thousands separators between digit groups are removed ("5,000" → "5000");
- number words become digits: zero to nineteen, the tens, compounds ("twenty five" → "25"),
  hundreds and thousands ("a hundred" → "100", "five thousand" → "5000", "one hundred and
  fifty" → "150"), and ordinals ("twenty-fifth" → "25th", "third" → "3rd"; a lone "second"
  stays a word, it is usually a unit of time);
- runs of whitespace become one space.

A phrase matches only as whole words and whole numbers: "5" is not found in "15", "5.5" or
"5,000", "day" is not found in "days".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_UNIT_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19,
}  # fmt: skip
_TEN_ORDINALS = {
    "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50, "sixtieth": 60,
    "seventieth": 70, "eightieth": 80, "ninetieth": 90,
}  # fmt: skip
_NUMBER_WORDS = [
    *_UNITS, *_TENS, *_SCALES, *_UNIT_ORDINALS, *_TEN_ORDINALS, "hundred", "hundredth",
    "thousandth", "and", "a",
]  # fmt: skip
_RUN = re.compile(
    r"(?<!\w)(?:{w})(?: (?:{w}))*(?!\w)".format(
        w="|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
    )
)
_DASHES = re.compile(r"[-‐‑‒–—―]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_SPACES = re.compile(r"\s+")


def _ordinal_suffix(n: int) -> str:
    if n % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


class _Number:
    """A number being read word by word ("one hundred and twenty five")."""

    def __init__(self) -> None:
        self.total = 0  # the part already multiplied by a scale (thousand, million)
        self.current = 0  # the part below the last scale
        self.last = ""  # kind of the last word: unit, ten, hundred, scale
        self.words: list[str] = []

    @property
    def empty(self) -> bool:
        return not self.words

    @property
    def value(self) -> int:
        return self.total + self.current

    def accepts(self, kind: str, value: int) -> bool:
        """Whether a word of this kind and value continues the number read so far."""
        if self.empty:
            return True
        if kind == "unit":
            return self.last in ("hundred", "scale") or (
                self.last == "ten" and 0 < value < 10 and self.current % 10 == 0
            )
        if kind == "ten":
            return self.last in ("hundred", "scale")
        if kind == "hundred":
            return self.last in ("unit", "ten") and 0 < self.current < 100
        if kind == "scale":
            return self.current > 0 and self.last != "scale"
        return False

    def add(self, word: str, kind: str, value: int) -> None:
        self.words.append(word)
        self.last = kind
        if kind in ("unit", "ten"):
            self.current += value
        elif kind == "hundred":
            self.current *= 100
        else:
            self.total += self.current * value
            self.current = 0


def _kind(word: str) -> tuple[str, int, bool] | None:
    """(kind, value, ordinal) of a number word; None for any other word."""
    if word in _UNITS:
        return "unit", _UNITS[word], False
    if word in _UNIT_ORDINALS:
        return "unit", _UNIT_ORDINALS[word], True
    if word in _TENS:
        return "ten", _TENS[word], False
    if word in _TEN_ORDINALS:
        return "ten", _TEN_ORDINALS[word], True
    if word in ("hundred", "hundredth"):
        return "hundred", 100, word.endswith("th")
    if word in _SCALES:
        return "scale", _SCALES[word], False
    if word == "thousandth":
        return "scale", 1_000, True
    return None


def _convert_run(words: Sequence[str]) -> str:
    """Number words in a run of words replaced by digits; other words kept."""
    out: list[str] = []
    number = _Number()

    def flush(suffix: str = "") -> None:
        nonlocal number
        if not number.empty:
            out.append(f"{number.value}{suffix}")
        number = _Number()

    i = 0
    while i < len(words):
        word = words[i]
        following = words[i + 1] if i + 1 < len(words) else ""
        if word == "a" and number.empty and following in ("hundred", "thousand", "million"):
            number.add(word, "unit", 1)  # "a hundred", "a thousand"
            i += 1
            continue
        if word == "and" and number.last in ("hundred", "scale"):
            nxt = _kind(following)
            if nxt is not None and nxt[0] in ("unit", "ten"):
                i += 1  # "one hundred and fifty": "and" belongs to the number
                continue
        kind = _kind(word)
        if kind is None or (word == "second" and number.last != "ten"):
            flush()
            out.append(word)
            i += 1
            continue
        name, value, ordinal = kind
        if not number.accepts(name, value):
            flush()
        number.add(word, name, value)
        if ordinal:
            flush(_ordinal_suffix(number.value))
        i += 1
    flush()
    return " ".join(out)


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """The form answers and key phrases are compared in (see the module docstring)."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = _DASHES.sub(" ", text)
    text = _THOUSANDS.sub("", text)
    text = _SPACES.sub(" ", text).strip()
    return _RUN.sub(lambda m: _convert_run(m.group(0).split(" ")), text)


@lru_cache(maxsize=4096)
def _phrase_pattern(phrase: str) -> re.Pattern[str] | None:
    norm = normalise(phrase)
    if not norm:
        return None
    head = r"(?<!\w)" if re.match(r"\w", norm) else ""
    head += r"(?<!\d[.,:])" if norm[0].isdigit() else ""
    tail = r"(?!\w)" if re.search(r"\w$", norm) else ""
    tail += r"(?![.,:]\d)" if norm[-1].isdigit() else ""
    return re.compile(head + re.escape(norm) + tail)


def contains_phrase(answer: str, phrase: str) -> bool:
    """Whether the answer contains the phrase, after normalising both, on word boundaries."""
    pattern = _phrase_pattern(phrase)
    return pattern is not None and pattern.search(normalise(answer)) is not None


def match_phrases(answer: str, phrases: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split key phrases into those the answer contains and those it misses (order kept)."""
    found = [p for p in phrases if contains_phrase(answer, p)]
    return found, [p for p in phrases if p not in found]
