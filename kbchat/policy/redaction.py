"""Redaction of what may leave the company: e-mail addresses, phone numbers, ID-like numbers,
secrets and keys, plus patterns an admin adds.

Matching runs on a normalised copy of the text (`kbchat.policy.normalise`: NFKC, dashes,
spaces, invisible characters), and the replacements are made on the original text at the
characters each match came from. Kinds run in order (secrets first: a key may hold digits that
look like a phone number); what one kind found is blanked out before the next looks. Every
built-in search is linear in the length of the text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from kbchat.policy.normalise import normalise
from kbchat.policy.phones import phone_spans
from kbchat.policy.secrets import secret_spans

Finder = Callable[[str], Iterable[tuple[int, int]]]

EMAIL = re.compile(
    r"(?<![\w.%+'-])[\w.%+'-]+@(?:[^\W_](?:[\w-]{0,62}[^\W_])?\.)+"
    r"(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})(?![\w-])"
)
# Employee and record numbers (QS-004512, qs-004512), not order or invoice numbers.
EMPLOYEE_ID = re.compile(
    r"(?i)(?<![\w-])(?!(?:po|inv|ord|so|ref|sku|isbn|issn|cve|rfc|iso)-)[a-z]{2,4}-\d{5,}+"
    r"(?![\w-])"
)
UK_NATIONAL_INSURANCE = re.compile(r"(?<!\w)[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D](?!\w)")
US_SOCIAL_SECURITY = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
IBAN = re.compile(r"(?<!\w)[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?(?!\w)")
PAYMENT_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")


def _spans(pattern: re.Pattern[str]) -> Finder:
    def find(text: str) -> Iterator[tuple[int, int]]:
        for match in pattern.finditer(text):
            yield match.span("value") if "value" in pattern.groupindex else match.span()

    return find


def _card_spans(text: str) -> Iterator[tuple[int, int]]:
    """Card numbers: issuer digit 2–6 and a valid Luhn check digit (an ISBN has neither)."""
    for match in PAYMENT_CARD.finditer(text):
        digits = [int(c) for c in match.group(0) if c.isdigit()]
        if digits[0] in (2, 3, 4, 5, 6) and _luhn(digits):
            yield match.span()


def _luhn(digits: list[int]) -> bool:
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0


def _id_spans(text: str) -> Iterator[tuple[int, int]]:
    for pattern in (EMPLOYEE_ID, UK_NATIONAL_INSURANCE, US_SOCIAL_SECURITY, IBAN):
        for match in pattern.finditer(text):
            yield match.span()
    yield from _card_spans(text)


# Order matters: secrets first (a key may contain digits that look like a phone number).
BUILT_IN: dict[str, Finder] = {
    "secret": secret_spans,
    "email": _spans(EMAIL),
    "id": _id_spans,
    "phone": phone_spans,
}
_BLANK = "\x00"


@dataclass(frozen=True)
class Redacted:
    """Redacted text and how many values of each kind were replaced."""

    text: str
    counts: Counter[str]


@dataclass(frozen=True)
class Finding:
    """One value to redact: its kind and its span in the original text."""

    kind: str
    start: int
    end: int
    value: str


class Redactor:
    """Replace sensitive values with ``[REDACTED <KIND>]``.

    Args:
        kinds: which redactions are on (``email``, ``phone``, ``id``, ``secret``, or extra
            pattern names); ``none`` alone turns redaction off.
        extra: additional patterns by name (regular expressions, matched on the normalised
            text; a named group ``value`` redacts only that part).
    """

    def __init__(self, kinds: Iterable[str], extra: Mapping[str, str] | None = None) -> None:
        enabled = [k for k in kinds if k != "none"]
        finders: dict[str, Finder] = {
            **BUILT_IN,
            **{name: _spans(re.compile(regex)) for name, regex in (extra or {}).items()},
        }
        self.kinds = [k for k in finders if k in enabled]
        self._finders = [(kind, finders[kind]) for kind in self.kinds]

    def find(self, text: str) -> list[Finding]:
        """Every value redaction would replace, in the original text's positions, in order."""
        if not self._finders or not text:
            return []
        normalised = normalise(text)
        working = normalised.text
        found: list[tuple[int, int, str]] = []
        for kind, finder in self._finders:
            spans = _disjoint(
                (s, e) for s, e in finder(working) if e > s and _BLANK not in working[s:e]
            )
            if not spans:
                continue
            found.extend((s, e, kind) for s, e in spans)
            working = _blank(working, spans)
        findings = []
        for start, end, kind in sorted(found):
            o_start, o_end = normalised.span(start, end)
            findings.append(Finding(kind, o_start, o_end, text[o_start:o_end]))
        return findings

    def redact(self, text: str) -> Redacted:
        """Redact one text."""
        counts: Counter[str] = Counter()
        pieces: list[str] = []
        last = 0
        for finding in self.find(text):
            if finding.start < last:
                continue
            pieces.append(text[last : finding.start])
            pieces.append(f"[REDACTED {finding.kind.upper()}]")
            counts[finding.kind] += 1
            last = finding.end
        if not counts:
            return Redacted(text, counts)
        pieces.append(text[last:])
        return Redacted("".join(pieces), counts)

    def findings(self, text: str) -> Counter[str]:
        """What redaction would replace in a text (nothing, for text already redacted)."""
        return Counter(f.kind for f in self.find(text))


def _disjoint(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans in order, an overlapping one merged into the one before it."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    pieces: list[str] = []
    last = 0
    for start, end in spans:
        pieces.append(text[last:start])
        pieces.append(_BLANK * (end - start))
        last = end
    pieces.append(text[last:])
    return "".join(pieces)
