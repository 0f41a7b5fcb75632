"""How a chunk's access (the groups that may read it) is stored, and filtered on.

Every chunk carries, in its metadata (the same in Chroma and in the keyword index):

- ``access``: the groups, sorted and comma-joined (``"finance,hr"``), for people and for
  comparing with the access in force; ``""`` means no group (only full-access readers);
- one boolean key per group, ``access_<16 hex digits of SHA-256 of the group name>`` = ``True``.

Chroma's ``where`` cannot test "a list holds any of these values" on every server version, but
it can OR equalities on scalar keys (``{"$or": [{"access_…": True}, …]}``), and SQLite reads
the same keys with ``json_extract``. Hashing the group name keeps the keys valid identifiers
whatever the group is called. A chunk without these keys (written before access existed) is
readable by no group until an ingestion run reconciles it: fail closed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from vectorstore.records import Metadata, MetadataValue

ACCESS_KEY = "access"
GROUP_KEY_PREFIX = "access_"
_HEX = frozenset("0123456789abcdef")


def group_key(group: str) -> str:
    """The metadata key that marks a chunk readable by ``group`` (already normalised)."""
    return GROUP_KEY_PREFIX + hashlib.sha256(group.encode("utf-8")).hexdigest()[:16]


def is_group_key(key: str) -> bool:
    """Whether a metadata key is one of the per-group access keys."""
    tail = key[len(GROUP_KEY_PREFIX) :]
    return key.startswith(GROUP_KEY_PREFIX) and len(tail) == 16 and set(tail) <= _HEX


def access_metadata(groups: Iterable[str]) -> dict[str, MetadataValue]:
    """The metadata entries that store these groups (see the module docstring)."""
    ordered = sorted(set(groups))
    entries: dict[str, MetadataValue] = {ACCESS_KEY: ",".join(ordered)}
    entries.update({group_key(g): True for g in ordered})
    return entries


def stored_groups(metadata: Metadata) -> frozenset[str] | None:
    """The groups a chunk's metadata stores; ``None`` when it stores no access at all."""
    value = metadata.get(ACCESS_KEY)
    if not isinstance(value, str):
        return None
    return frozenset(g for g in value.split(",") if g)


def readable(metadata: Metadata, readable_by: Iterable[str]) -> bool:
    """Whether a chunk's stored keys make it readable by any of these groups."""
    return any(metadata.get(group_key(g)) is True for g in readable_by)


def access_update(old: Metadata, groups: Iterable[str]) -> dict[str, Any]:
    """A Chroma metadata update from ``old`` to ``groups`` (``None`` deletes a stale key)."""
    new = access_metadata(groups)
    update: dict[str, Any] = {k: None for k in old if is_group_key(k) and k not in new}
    update.update(new)
    return update


def chroma_access_where(readable_by: Iterable[str]) -> dict[str, Any]:
    """A Chroma ``where`` clause: chunks readable by any of these groups.

    No group at all matches nothing (a key no chunk has).
    """
    keys = sorted({group_key(g) for g in readable_by})
    if not keys:
        return {GROUP_KEY_PREFIX + "none": True}
    if len(keys) == 1:
        return {keys[0]: True}
    return {"$or": [{k: True} for k in keys]}


def access_sql(
    readable_by: Iterable[str], column: str = "chunks.metadata"
) -> tuple[str, list[object]]:
    """A SQL condition on a JSON metadata column: chunks readable by any of these groups."""
    keys = sorted({group_key(g) for g in readable_by})
    if not keys:
        return "0", []
    # The keys are generated (prefix and hex digits), so they are safe in the JSON path.
    clause = " OR ".join(f"json_extract({column}, '$.{k}') = 1" for k in keys)
    return f"({clause})", []


def merge_where(*clauses: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Several Chroma ``where`` clauses, all of which must hold."""
    present = [dict(c) for c in clauses if c]
    if not present:
        return None
    return present[0] if len(present) == 1 else {"$and": present}
