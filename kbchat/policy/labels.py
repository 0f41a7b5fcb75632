"""The current sensitivity label of a document, decided when it is asked for.

This is the one place that says what a document's label is *now*: the cloud policy gate
applies it to every passage and to every earlier turn of a conversation, and the Admin page
and ``kbchat docs list`` show it. It is never copied from the index, so a label an admin saves,
a front matter edit and a new path rule count from that moment, without a re-ingest.

The label is the strictest of the admin's label (``admin_settings.json``), the front matter the
file has now, and the confidential path patterns in force (applied to the path and, for a link,
to its target); the default when neither the admin nor the document states one. It is the rule
ingestion applies (`ingest.sensitivity.label_for`).

Fail closed: a document whose label cannot be determined is confidential: when
``admin_settings.json`` cannot be used, for a path that is not a document of the corpus folder
(empty, absolute, with ``..``, or leading outside it), when the file is missing or unreadable,
and when its front matter cannot be parsed or names an unknown label.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import cast

from ingest.corpus_paths import document_file
from ingest.links import strictest
from ingest.loaders import SUPPORTED_EXTENSIONS, LoadError
from ingest.loaders.markdown import split_front_matter
from ingest.sensitivity import SensitivityError, label_for, matches_any
from ingest.textio import read_text
from kbchat.overrides import FAIL_CLOSED, read_overrides
from kbchat.settings import Sensitivity, Settings

CONFIDENTIAL: Sensitivity = "confidential"
_FRONT_MATTER_FORMATS = ("markdown",)
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class LabelDecision:
    """A document's current label and why.

    Attributes:
        source: the corpus-relative path asked about.
        label: the label in force.
        reason: where it comes from ("front matter", "admin label", "path rule", "default"), or
            why it could not be determined (then the label is confidential).
        determined: False when the label could not be determined.
    """

    source: str
    label: Sensitivity
    reason: str
    determined: bool = True


# Front matter labels by file identity: (path, inode, size, mtime) -> (label, error).
_front_matter: dict[tuple[str, int, int, int], tuple[str, str | None]] = {}
_cache_lock = threading.Lock()


def _front_matter_label(path: Path, size_limit: int) -> tuple[str, str | None]:
    """The ``sensitivity`` of a Markdown file's front matter ('' when none), or an error."""
    info = path.stat()
    key = (str(path), info.st_ino, info.st_size, info.st_mtime_ns)
    with _cache_lock:
        cached = _front_matter.get(key)
    if cached is not None:
        return cached
    try:
        with path.open("rb") as handle:
            data = handle.read(size_limit)
        metadata, _body = split_front_matter(read_text(path, data))
        found: tuple[str, str | None] = (metadata.get("sensitivity", ""), None)
    except LoadError as err:
        found = ("", f"its front matter cannot be read ({err})")
    with _cache_lock:
        if len(_front_matter) >= _CACHE_LIMIT:
            _front_matter.clear()
        _front_matter[key] = found
    return found


class CurrentLabels:
    """The labels in force at one moment: built once per request, asked per document.

    Args:
        settings: the settings (the admin's run-time changes are read here, afresh).
    """

    def __init__(self, settings: Settings) -> None:
        state = read_overrides(settings)
        self.error = state.error
        values = FAIL_CLOSED if state.error else state.values
        self.confidential_paths = list(
            values.get("confidential_paths", settings.ingest.confidential_paths)
        )
        self.admin_labels: dict[str, str] = dict(values.get("sensitivity_overrides", {}))
        self.default = settings.ingest.default_sensitivity
        self.corpus = settings.paths.corpus_dir.resolve()
        self.size_limit = max(1, int(settings.ingest.max_file_mb * 1024 * 1024))
        self._decided: dict[str, LabelDecision] = {}

    def decide(self, source: str) -> LabelDecision:
        """The current label of one document and why (confidential when undetermined)."""
        if source not in self._decided:
            self._decided[source] = self._decide(source)
        return self._decided[source]

    def label(self, source: str) -> Sensitivity:
        """The current label of one document."""
        return self.decide(source).label

    def is_confidential(self, source: str) -> bool:
        """Whether the document must stay in the company."""
        return self.label(source) == CONFIDENTIAL

    def _undetermined(self, source: str, why: str) -> LabelDecision:
        return LabelDecision(source, CONFIDENTIAL, why, determined=False)

    def _decide(self, source: str) -> LabelDecision:
        if self.error:
            return self._undetermined(source, "the admin settings file cannot be used")
        target, why = document_file(self.corpus, source)
        if target is None:
            return self._undetermined(source, why)
        relative = PurePosixPath(source)
        stated = ""
        if SUPPORTED_EXTENSIONS.get(relative.suffix.lower()) in _FRONT_MATTER_FORMATS:
            try:
                stated, problem = _front_matter_label(target, self.size_limit)
            except OSError as err:
                return self._undetermined(source, f"the file cannot be read ({err.strerror})")
            if problem:
                return self._undetermined(source, problem)
        # A link inside the folder: the rules for its target's path (pattern, admin label)
        # apply too, as in ingestion (`ingest.links`); the strictest wins.
        rule_paths = dict.fromkeys(
            [relative.as_posix(), target.relative_to(self.corpus).as_posix()]
        )
        if any(matches_any(p, self.confidential_paths) for p in rule_paths):
            return LabelDecision(source, CONFIDENTIAL, "path rule")
        admins = [self.admin_labels.get(p) for p in rule_paths]
        try:
            label = strictest(
                label_for(
                    p,
                    {"sensitivity": stated},
                    confidential_paths=self.confidential_paths,
                    default=self.default,
                    override=admin,
                )
                for p, admin in zip(rule_paths, admins, strict=True)
            )
        except (SensitivityError, ValueError) as err:
            return self._undetermined(source, str(err))
        stated_by_admin = label in admins
        return LabelDecision(
            source, cast(Sensitivity, label), _reason(label, stated_by_admin, stated)
        )


def _reason(label: str, by_admin: bool, stated: str) -> str:
    if by_admin:
        return "admin label"
    if stated and stated.strip().lower() == label:
        return "front matter"
    return "default"


def current_labels(settings: Settings) -> CurrentLabels:
    """The labels in force now (read the admin's settings once; ask per document)."""
    return CurrentLabels(settings)


def current_label(settings: Settings, source: str) -> Sensitivity:
    """The label in force now for one document (corpus-relative path); confidential when it
    cannot be determined."""
    return CurrentLabels(settings).label(source)
