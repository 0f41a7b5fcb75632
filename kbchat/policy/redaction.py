"""Redaction of what may leave the company: e-mail addresses, phone numbers, ID-like numbers,
secrets and keys, plus patterns an admin adds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Order matters: secrets first (a key may contain digits that look like a phone number).
BUILT_IN: dict[str, list[str]] = {
    "secret": [
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        r"\bsk-(?:proj-)?[A-Za-z0-9_-]{16,}",
        r"\bAKIA[0-9A-Z]{16}\b",
        r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
        r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
        r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
        r"(?i)\b(?:api[_ -]?key|secret|password|passwd|token)\s?[:=]\s?"
        r"(?P<value>(?!\[REDACTED)\S{6,})",
    ],
    "email": [r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"],
    "id": [
        r"\b[A-Z]{2,4}-\d{5,}\b",  # employee and record numbers: QS-004512
        r"\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",  # UK National Insurance
        r"\b\d{3}-\d{2}-\d{4}\b",  # US Social Security
        r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b",  # IBAN
        r"\b(?:\d[ -]?){13,19}\b",  # payment card numbers
    ],
    "phone": [r"(?<![\w+])\+?\(?\d[\d ().-]{7,}\d(?!\w)"],
}
MIN_PHONE_DIGITS = 9


@dataclass(frozen=True)
class Redacted:
    """Redacted text and how many values of each kind were replaced."""

    text: str
    counts: Counter[str]


class Redactor:
    """Replace sensitive values with ``[REDACTED <KIND>]``.

    Args:
        kinds: which redactions are on (``email``, ``phone``, ``id``, ``secret``, or extra
            pattern names); ``none`` alone turns redaction off.
        extra: additional patterns by name.
    """

    def __init__(self, kinds: Iterable[str], extra: Mapping[str, str] | None = None) -> None:
        enabled = [k for k in kinds if k != "none"]
        patterns = {**BUILT_IN, **{name: [regex] for name, regex in (extra or {}).items()}}
        self.kinds = [k for k in patterns if k in enabled]
        self._compiled = [
            (kind, re.compile(regex)) for kind in self.kinds for regex in patterns[kind]
        ]

    def redact(self, text: str) -> Redacted:
        """Redact one text."""
        counts: Counter[str] = Counter()
        for kind, pattern in self._compiled:

            def replace(match: re.Match[str], kind: str = kind) -> str:
                value = match.group(0)
                if kind == "phone" and sum(c.isdigit() for c in value) < MIN_PHONE_DIGITS:
                    return value
                counts[kind] += 1
                label = f"[REDACTED {kind.upper()}]"
                if "value" in match.re.groupindex:  # keep the key name, hide the value
                    start = match.start("value") - match.start()
                    return value[:start] + label
                return label

            text = pattern.sub(replace, text)
        return Redacted(text, counts)

    def findings(self, text: str) -> Counter[str]:
        """What redaction would replace in a text (nothing, for text already redacted)."""
        return self.redact(text).counts
