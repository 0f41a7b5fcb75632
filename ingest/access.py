"""Which groups may read a document: front matter, path rules, the admin's setting, default.

The rule (`access_for`):

- front matter ``access: [hr, finance]`` (a YAML list, or a comma-separated string) speaks for
  the document; a blank ``access:`` says nothing;
- every path rule (glob -> groups, matched as ``confidential_paths`` are, see
  `ingest.sensitivity.matches_any`) whose glob matches the document's path speaks, and so does
  one matching the target of a symbolic link inside the corpus (`ingest.links`);
- the admin's per-document setting speaks (for a link: the setting of the link and of its
  target);
- where several speak, only the groups ALL of them name may read (the intersection: the
  strictest wins); the default groups apply only when none speaks.

Group names are compared stripped and case-folded (as `kbchat.identity.normalise_group`).
Fail closed: access that cannot be determined (a group name that cannot be used, unreadable
front matter; the callers add an unusable ``admin_settings.json`` and a path outside the
corpus) is the empty set, which only full-access readers pass.

How ingestion stores the result with every chunk, for Chroma's ``where`` and for the keyword
index's SQL to filter on "any of the user's groups": `vectorstore.access` (an ``access``
display string, ``"finance,hr"``, and one boolean key per group).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import SUPPORTED_EXTENSIONS, LoadError
from ingest.loaders.markdown import split_front_matter
from ingest.sensitivity import matches_any
from ingest.textio import read_text

EVERYONE = "everyone"
FRONT_MATTER_KEY = "access"
_FRONT_MATTER_FORMATS = ("markdown",)
_MAX_GROUP_CHARS = 200


class AccessError(ValueError):
    """A group name that cannot be used."""


def normalise_group(name: str) -> str:
    """A group name as compared: stripped and case-folded.

    Raises:
        AccessError: empty, longer than 200 characters, or holding a control character, a
            quote or a backslash.
    """
    group = name.strip().casefold()
    if not group:
        raise AccessError("a group name is empty")
    if len(group) > _MAX_GROUP_CHARS:
        raise AccessError(f"the group name {group[:40]!r}… is longer than 200 characters")
    if any(ord(c) < 32 or c in '"\\' for c in group):
        raise AccessError(f"the group name {group!r} holds a control character or a quote")
    return group


def parse_groups(value: str | Iterable[str]) -> frozenset[str]:
    """Groups from a comma-separated string or a list of names, normalised; blanks skipped.

    Raises:
        AccessError: a name cannot be used.
    """
    names = value.split(",") if isinstance(value, str) else list(value)
    return frozenset(normalise_group(n) for n in names if str(n).strip())


@dataclass(frozen=True)
class AccessDecision:
    """A document's groups and why.

    Attributes:
        groups: who may read it (empty: only full-access readers).
        reason: what decided it ("front matter", "path rule hr/**", "admin setting",
            "default", several joined with " + "), or why it could not be determined.
        determined: False when it could not be determined (then ``groups`` is empty).
    """

    groups: frozenset[str]
    reason: str
    determined: bool = True


def undetermined(reason: str) -> AccessDecision:
    """Access that cannot be determined: nobody but full-access readers."""
    return AccessDecision(frozenset(), reason, determined=False)


def access_for(
    rule_paths: Sequence[str],
    stated: str | None,
    *,
    rules: Mapping[str, Sequence[str]],
    default: Sequence[str],
    overrides: Mapping[str, Sequence[str]] | None = None,
) -> AccessDecision:
    """Decide which groups may read a document.

    Args:
        rule_paths: the document's corpus-relative path and, for a link inside the corpus,
            its target's path.
        stated: the front matter's ``access`` value as text (``None`` or blank: none).
        rules: path glob -> groups.
        default: the groups when nothing speaks.
        overrides: the admin's setting per corpus-relative path.
    """
    speakers: list[tuple[str, frozenset[str]]] = []
    try:
        if stated is not None and stated.strip():
            speakers.append(("front matter", parse_groups(stated)))
        for glob, named in rules.items():
            if any(matches_any(p, [glob]) for p in rule_paths):
                speakers.append((f"path rule {glob}", parse_groups(named)))
        for path in dict.fromkeys(rule_paths):
            chosen = (overrides or {}).get(path)
            if chosen is not None:
                speakers.append(("admin setting", parse_groups(chosen)))
        if not speakers:
            return AccessDecision(parse_groups(default), "default")
    except AccessError as err:
        return undetermined(str(err))
    groups = frozenset.intersection(*(g for _why, g in speakers))
    reason = " + ".join(dict.fromkeys(why for why, _g in speakers))
    return AccessDecision(groups, reason)


def front_matter_access(path: Path, max_bytes: int) -> tuple[str | None, str | None]:
    """The ``access`` value of a file's front matter (``None``: the format has none, or it
    states none), and why it cannot be read (``None`` when it can).

    Raises:
        OSError: the file cannot be read.
    """
    if SUPPORTED_EXTENSIONS.get(path.suffix.lower()) not in _FRONT_MATTER_FORMATS:
        return None, None
    with path.open("rb") as handle:
        data = handle.read(max_bytes)
    try:
        metadata, _body = split_front_matter(read_text(path, data))
    except LoadError as err:
        return None, f"its front matter cannot be read ({err})"
    return metadata.get(FRONT_MATTER_KEY), None
