"""Which groups may read a document now, decided when it is asked for.

This is the one place that says a document's access *in force*: retrieval checks its hits
against it (defence in depth behind the filter inside both retrievers), the sidebar counts and
the source download use it, and the Admin page and ``kbchat docs list`` show it. It reads the
front matter the file has now, the path rules in force (``KBCHAT_ACCESS_RULES``), the admin's
per-document setting (``admin_settings.json``) and the default (``KBCHAT_DEFAULT_ACCESS``),
and applies the rule of `ingest.access.access_for`: where several speak, the intersection.

The index stores each chunk's access too (`vectorstore.access`), because the filter runs inside
Chroma and SQLite. `kbchat.admin.documents.set_document_access` rewrites it at once (no
re-embedding); every ingestion run reconciles it with the access in force; a search that meets
a chunk whose stored access is stale rewrites that document's chunks and searches again
(`kbchat.answering.service`, through `kbchat.knowledge.AccessPolicy`). Those writes live above
this module, beside the index: the decision here reads no index.

Fail closed: access that cannot be determined is the empty set (only full-access readers):
when ``admin_settings.json`` cannot be used, for a path that is not a document of the corpus
folder (empty, absolute, with ``..``, or leading outside it), when the file is missing or
unreadable, and when its front matter cannot be parsed or names a group that cannot be used.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ingest.access import access_for, front_matter_access
from ingest.corpus_paths import document_file
from kbchat.identity import User
from kbchat.overrides import ACCESS_KEY, AdminState, read_overrides
from kbchat.settings import Settings

_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class AccessInForce:
    """A document's groups now, and why.

    Attributes:
        source: the corpus-relative path asked about.
        groups: who may read it (empty: only full-access readers).
        reason: where it comes from ("front matter", "path rule GLOB", "admin setting",
            "default", joined with " + "), or why it could not be determined.
        determined: False when it could not be determined (then ``groups`` is empty).
    """

    source: str
    groups: frozenset[str]
    reason: str
    determined: bool = True

    @property
    def shown(self) -> str:
        """The groups for people: ``hr, finance``, or ``nobody (full access only)``."""
        return ", ".join(sorted(self.groups)) or "nobody (full access only)"


# Front matter ``access`` by file identity: (path, inode, size, mtime) -> (value, error).
_front_matter: dict[tuple[str, int, int, int], tuple[str | None, str | None]] = {}
_cache_lock = threading.Lock()


def _front_matter_access(path: Path, size_limit: int) -> tuple[str | None, str | None]:
    info = path.stat()
    key = (str(path), info.st_ino, info.st_size, info.st_mtime_ns)
    with _cache_lock:
        cached = _front_matter.get(key)
    if cached is not None:
        return cached
    found = front_matter_access(path, size_limit)
    with _cache_lock:
        if len(_front_matter) >= _CACHE_LIMIT:
            _front_matter.clear()
        _front_matter[key] = found
    return found


def access_options(settings: Settings, state: AdminState) -> dict[str, Any]:
    """The access fields of `ingest.sync.IngestOptions` for these settings and admin state."""
    return {
        "access_rules": {g: tuple(v) for g, v in settings.access.access_rules.items()},
        "default_access": tuple(settings.access.default_access),
        "access_overrides": {
            s: tuple(g) for s, g in dict(state.values.get(ACCESS_KEY, {})).items()
        },
        "access_unusable": "the admin settings file cannot be used" if state.error else None,
    }


class CurrentAccess:
    """The access in force at one moment: built once per request, asked per document.

    Args:
        settings: the settings (the admin's settings file is read here, afresh).
    """

    def __init__(self, settings: Settings) -> None:
        state = read_overrides(settings)
        self.error = state.error
        self.rules = {g: tuple(v) for g, v in settings.access.access_rules.items()}
        self.default = tuple(settings.access.default_access)
        self.overrides: dict[str, list[str]] = dict(state.values.get(ACCESS_KEY, {}))
        self.corpus = settings.paths.corpus_dir.resolve()
        self.size_limit = max(1, int(settings.ingest.max_file_mb * 1024 * 1024))
        self._decided: dict[str, AccessInForce] = {}

    def decide(self, source: str) -> AccessInForce:
        """The access in force for one document and why (empty when undetermined)."""
        if source not in self._decided:
            self._decided[source] = self._decide(source)
        return self._decided[source]

    def groups(self, source: str) -> frozenset[str]:
        """The groups that may read one document now."""
        return self.decide(source).groups

    def may_read(self, user: User, source: str) -> bool:
        """Whether ``user`` may read the document now."""
        return user.full_access or user.may_read(self.groups(source))

    def _undetermined(self, source: str, why: str) -> AccessInForce:
        return AccessInForce(source, frozenset(), why, determined=False)

    def _decide(self, source: str) -> AccessInForce:
        if self.error:
            return self._undetermined(source, "the admin settings file cannot be used")
        target, why = document_file(self.corpus, source)
        if target is None:
            return self._undetermined(source, why)
        relative = PurePosixPath(source)
        try:
            stated, problem = _front_matter_access(target, self.size_limit)
        except OSError as err:
            return self._undetermined(source, f"the file cannot be read ({err.strerror})")
        if problem:
            return self._undetermined(source, problem)
        rule_paths = tuple(
            dict.fromkeys([relative.as_posix(), target.relative_to(self.corpus).as_posix()])
        )
        decision = access_for(
            rule_paths, stated, rules=self.rules, default=self.default, overrides=self.overrides
        )
        return AccessInForce(source, decision.groups, decision.reason, decision.determined)


def current_access(settings: Settings) -> CurrentAccess:
    """The access in force now (reads the admin's settings once; ask per document)."""
    return CurrentAccess(settings)
