"""The sensitivity label of a document: front matter, path rules, default."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

LABELS = ("public", "internal", "confidential")


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
    """Whether a corpus-relative POSIX path matches any of the glob patterns."""
    return any(_glob_regex(p).match(source) for p in patterns if p.strip())


def label_for(
    source: str,
    metadata: Mapping[str, str],
    *,
    confidential_paths: Sequence[str],
    default: str = "internal",
) -> str:
    """Decide a document's sensitivity label.

    The front matter ``sensitivity`` (or the default) applies, raised to ``confidential`` when
    the path matches a confidential pattern: a path rule can only make a label stricter.

    Raises:
        SensitivityError: the front matter names an unknown label.
    """
    stated = metadata.get("sensitivity", "").strip().lower()
    if stated and stated not in LABELS:
        raise SensitivityError(
            f"unknown sensitivity label {stated!r} in front matter (use public, internal or "
            "confidential)"
        )
    label = stated or default
    if matches_any(source, confidential_paths):
        label = "confidential"
    return label
