"""Phone numbers in (normalised) text, without dates, prices, versions, ranges or order numbers.

A phone number is a run of digit groups joined by single separators (space, ``-``, ``.``,
``/``), perhaps with a leading ``+`` and an area code in brackets. Runs are found by one
possessive pattern (each character is read a bounded number of times, so the search is linear
in the text); each run is then cut into numbers by rules on its groups: how many digits, what
shape, what the words before it say.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# A run starts where no word, '+', '#', '/', '.' or '-' comes before it (so "ORD-2026-118734",
# "v4.3.1" and "#20231" never start one) and takes every group and separator possessively.
_GROUP = r"(?:\( ?\+?\d{1,5} ?\)|\d++)"
_SEP = r"(?: ?[/.\-] ?| {1,3}|(?<=\)))"
RUN = re.compile(rf"(?<![\w+#/.\-])(?:\+ ?)?{_GROUP}(?:{_SEP}{_GROUP})*+")
_GROUPS = re.compile(r"\( ?\+?(\d{1,5}) ?\)|(\d+)")
_DATE = re.compile(
    r"(?<![\d.\-/])(?:(\d{4})[-./](\d{1,2})[-./](\d{1,2})|(\d{1,2})[-./](\d{1,2})[-./](\d{4}|\d{2}))"
    r"(?![\d])"
)
# Words right before a number that say it is not a phone number ("order no. 100234567").
_NOT_PHONE_WORDS = frozenset(
    [
        "order",
        "orders",
        "invoice",
        "inv",
        "po",
        "ref",
        "reference",
        "ticket",
        "case",
        "isbn",
        "issn",
        "account",
        "acct",
        "code",
        "customer",
        "serial",
        "tracking",
        "batch",
        "lot",
        "version",
        "release",
        "build",
        "iban",
        "amount",
        "total",
        "price",
        "cost",
        "budget",
        "salary",
        "id",
    ]
)
_NUMBER_WORDS = frozenset(("number", "no", "nr", "num"))
_WORD = re.compile(r"[^\W\d_]+")
# Words before a number that say it is one (needed for a number written without separators).
_PHONE_CUE = re.compile(
    r"(?i)\b(?:phone|telephone|tel|call|mobile|mob|cell|fax|ring|dial|whatsapp|sms|text|"
    r"contact|reach|hotline|helpline|reception|telefon|handy|tél|téléphone|on-call)\b"
)
_LABEL = re.compile(r"\[REDACTED [^\]]{1,40}\]")
_CURRENCY = frozenset("£$€¥₹₩₽¢")
MIN_DIGITS = 7  # a local number without its area code: 555 0100
LOCAL_DIGITS = 8  # up to this many digits, only a local number's shape counts
MAX_DIGITS = 15  # E.164
MAX_GROUPS = 7


@dataclass(frozen=True)
class _Group:
    start: int
    end: int
    digits: str
    bracketed: bool
    sep: str  # the separator before the group, spaces taken out (' ' for spaces alone)
    splits: bool  # whether a number may start at this group (after a space or '/')


def phone_spans(text: str) -> Iterator[tuple[int, int]]:
    """The spans of phone numbers in ``text`` (already normalised), in order."""
    masked = _mask_dates(text)
    for run in RUN.finditer(masked):
        yield from _numbers(masked, run)


def _mask_dates(text: str) -> str:
    """The text with valid-looking dates blanked out, so no phone number can take them in."""
    pieces: list[str] = []
    last = 0
    for match in _DATE.finditer(text):
        year_first = match.group(1) is not None
        a, b = (match.group(2), match.group(3)) if year_first else (match.group(4), match.group(5))
        day_month = sorted((int(a), int(b)))
        if day_month[0] < 1 or day_month[0] > 12 or day_month[1] > 31:
            continue
        pieces.append(text[last : match.start()])
        pieces.append("\x00" * (match.end() - match.start()))
        last = match.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _numbers(text: str, run: re.Match[str]) -> Iterator[tuple[int, int]]:
    groups = _parse(text, run)
    plus = run.group(0).startswith("+")
    if groups and run.end() < len(text) and text[run.end()].isalnum():
        groups.pop()  # "3kg", "0123x": the last group belongs to a word
    before = text[max(0, run.start() - 40) : run.start()]
    if _currency_before(before):
        return
    if _excluded_run(groups):
        return
    total = [0]
    for group in groups:
        total.append(total[-1] + len(group.digits))
    i = 0
    while i < len(groups):
        last = min(len(groups), i + MAX_GROUPS)
        if not groups[i].splits or total[last] - total[i] < MIN_DIGITS:
            i += 1
            continue
        found = None
        prefix = before if i == 0 else text[max(0, groups[i].start - 40) : groups[i].start]
        denied = _denied(prefix)
        for j in range(last - 1, i - 1, -1):
            if j + 1 < len(groups) and not groups[j + 1].splits:
                continue
            count = total[j + 1] - total[i]
            if not MIN_DIGITS <= count <= MAX_DIGITS + 1:
                continue
            if count <= LOCAL_DIGITS and j != i + 1 and not (plus and i == 0):
                continue  # a local number is two groups: 555 0100
            if _is_phone(groups[i : j + 1], plus and i == 0, prefix, denied):
                found = j
                break
        if found is None:
            i += 1
            continue
        start = run.start() if i == 0 else groups[i].start
        yield start, groups[found].end
        i = found + 1


def _parse(text: str, run: re.Match[str]) -> list[_Group]:
    groups: list[_Group] = []
    last = run.start()
    for match in _GROUPS.finditer(text, run.start(), run.end()):
        digits = match.group(1) or match.group(2)
        raw = text[last : match.start()] if groups else ""
        sep = raw.strip(" +") or (" " if raw else "")
        splits = not groups or " " in raw or "/" in raw or match.group(1) is not None
        groups.append(
            _Group(match.start(), match.end(), digits, match.group(1) is not None, sep, splits)
        )
        last = match.end()
    return groups


def _denied(before: str) -> bool:
    """Whether the words just before a number say it is not a phone number."""
    words = _WORD.findall(before[-30:].lower())
    if not words:
        return False
    if words[-1] in _NUMBER_WORDS:  # "order number …", "no. …"; "phone number …" is fine
        return words[-1] != "number" or (len(words) > 1 and words[-2] in _NOT_PHONE_WORDS)
    return words[-1] in _NOT_PHONE_WORDS


def _excluded_run(groups: list[_Group]) -> bool:
    """A whole run that is a version number, an address or an ISBN: no number is cut from it."""
    seps = {g.sep for g in groups[1:]}
    digits = "".join(g.digits for g in groups)
    if seps == {"."} and (any(len(g.digits) == 1 for g in groups) or _looks_like_ip(groups)):
        return True
    return _looks_like_isbn(groups, digits, seps)


def _currency_before(before: str) -> bool:
    tail = before.rstrip(" ")
    return bool(tail) and (tail[-1] in _CURRENCY or tail[-3:].upper() in ("EUR", "USD", "GBP"))


def _is_phone(groups: list[_Group], plus: bool, before: str, denied: bool) -> bool:
    digits = "".join(g.digits for g in groups)
    count = len(digits)
    trunk = any(g.bracketed and g.digits == "0" for g in groups)  # +44 (0)113 …
    if count > MAX_DIGITS + trunk or count < MIN_DIGITS:
        return False
    if not plus and denied:  # "order number …", "ISBN …", "version …"
        return False
    seps = {g.sep for g in groups[1:]}
    if len(groups) == 1:  # no separators: a '+', a national trunk '0' or a word saying so
        national = digits[0] == "0" and digits[1] != "0" and 10 <= count <= 11
        cue = _PHONE_CUE.search(_LABEL.sub(" ", before)) is not None  # not "[REDACTED PHONE]"
        return count >= 9 and (plus or national or cue)
    if plus:
        return count >= 8
    if any(g.bracketed for g in groups):
        return True
    if _looks_like_isbn(groups, digits, seps) or _looks_like_amount(groups, seps):
        return False
    if seps == {"."} and (any(len(g.digits) == 1 for g in groups) or _looks_like_ip(groups)):
        return False  # a version number or an address
    if len(groups) == 2 and seps == {"-"} and _looks_like_range(groups):
        return False
    if count <= LOCAL_DIGITS:  # a local number: 555 0100, 555-0100
        shape = [len(g.digits) for g in groups]
        return shape == [3, 4] and groups[0].digits[0] in "23456789"
    return True


def _looks_like_isbn(groups: list[_Group], digits: str, seps: set[str]) -> bool:
    if seps - {"-", " "} or len(groups) not in (4, 5):
        return False
    if len(digits) == 13:
        return digits.startswith(("978", "979"))
    return len(digits) == 10 and len(groups[-1].digits) == 1


def _looks_like_amount(groups: list[_Group], seps: set[str]) -> bool:
    """Thousands grouping: 1 234 567, 12.500.000."""
    return (
        len(seps) == 1
        and seps <= {" ", "."}
        and 1 <= len(groups[0].digits) <= 3
        and not groups[0].digits.startswith("0")
        and all(len(g.digits) == 3 for g in groups[1:])
    )


def _looks_like_ip(groups: list[_Group]) -> bool:
    return len(groups) == 4 and all(len(g.digits) <= 3 and int(g.digits) <= 255 for g in groups)


def _looks_like_range(groups: list[_Group]) -> bool:
    """100-2000, 1000-25000: two round numbers, the second larger."""
    first, second = groups[0].digits, groups[1].digits
    return (
        not first.startswith("0")
        and int(first) < int(second)
        and first.endswith("0")
        and second.endswith("0")
    )
