"""The sensitivity label of a document: path rules, an admin's label, front matter, default."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from ingest.confusables import skeleton

LABELS = ("public", "internal", "confidential")  # from least to most strict


class SensitivityError(ValueError):
    """A document states a label that does not exist."""


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob: ``**`` spans folders, ``*`` and ``?`` stay within one."""
    out: list[str] = []
    i = 0
    pattern = pattern.strip().lstrip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE)


def matches_any(source: str, patterns: Sequence[str]) -> bool:
    """Whether a corpus-relative POSIX path matches any of the glob patterns.

    Both sides are compared as skeletons (`ingest.confusables`): a folder named with a
    look-alike letter (``hr/privаte``, Cyrillic ``а``) or a full-width one still matches.
    """
    folded = skeleton(source)
    return any(_glob_regex(skeleton(p)).match(folded) for p in patterns if p.strip())


def strictest(labels: Sequence[str]) -> str:
    """The strictest of known labels (``confidential`` > ``internal`` > ``public``)."""
    return max(labels, key=LABELS.index)


def label_for(
    source: str,
    metadata: Mapping[str, str],
    *,
    confidential_paths: Sequence[str],
    default: str = "internal",
    override: str | None = None,
) -> str:
    """Decide a document's sensitivity label.

    The strictest of what says something wins:

    1. a path matching a confidential pattern makes the document ``confidential``;
    2. an admin's label for this file (``override``) and the front matter ``sensitivity``: the
       stricter of the two (an admin can raise a document's own label, and give one to a PDF
       or DOCX, which have no front matter; lowering it means editing the document);
    3. the default, when neither the admin nor the document states a label.

    Raises:
        SensitivityError: the front matter or the admin's label names an unknown label.
    """
    stated = metadata.get("sensitivity", "").strip().lower()
    if stated and stated not in LABELS:
        raise SensitivityError(
            f"unknown sensitivity label {stated!r} in front matter (use public, internal or "
            "confidential)"
        )
    chosen = (override or "").strip().lower()
    if chosen and chosen not in LABELS:
        raise SensitivityError(
            f"unknown sensitivity label {chosen!r} set by an admin (use public, internal or "
            "confidential)"
        )
    stated_labels = [label for label in (chosen, stated) if label]
    label = strictest(stated_labels) if stated_labels else default
    if matches_any(source, confidential_paths):
        label = "confidential"
    return label
