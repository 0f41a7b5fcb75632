"""Settings an admin changes at run time (cloud allowed, confidential paths, labels), persisted.

The environment and `.env` give the defaults; an admin's change is stored next to the index
(``admin_settings.json``, written atomically) and written to the audit log. Front ends load
settings through `kbchat.settings_loading.load_settings`, which applies the changes once; the
cloud gate and
ingestion's options (`kbchat.knowledge.ingest_options`) read the file again when they act, so
a change holds at once in every process.

Per-file sensitivity labels (``sensitivity_overrides``: corpus-relative path -> label) have no
field in `Settings`; ingestion reads them with `sensitivity_overrides`, the gate through
`kbchat.policy.labels`.

Fail closed: when the file exists but cannot be read, is not valid JSON, or holds a value
that does not validate, `read_overrides` reports why (`AdminState.error`), `effective_settings`
switches the cloud off and makes every path confidential, no change can be saved until the
file is fixed (saving would drop the admin's other changes), and the Admin page and
``kbchat settings show`` show the error.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ingest.sensitivity import LABELS
from kbchat.audit import audit_for
from kbchat.errors import ConfigError
from kbchat.identity import IdentityError, normalise_groups
from kbchat.settings import Settings

# What an admin may change, and where it lives in the settings object.
ADJUSTABLE: dict[str, tuple[str, str]] = {
    "cloud_allowed": ("cloud", "cloud_allowed"),
    "confidential_paths": ("ingest", "confidential_paths"),
}
# Per-file labels an admin set: {corpus-relative POSIX path: label}.
LABELS_KEY = "sensitivity_overrides"
# Per-file groups an admin set: {corpus-relative POSIX path: [group, ...]} (`kbchat.access`).
ACCESS_KEY = "access_overrides"
KEYS = (*ADJUSTABLE, LABELS_KEY, ACCESS_KEY)

# What the settings fall back to while admin_settings.json cannot be used: stricter, never looser.
FAIL_CLOSED: dict[str, Any] = {"cloud_allowed": False, "confidential_paths": ["**"]}

_lock = threading.Lock()


@dataclass(frozen=True)
class AdminState:
    """The admin's stored changes, or why they cannot be used.

    Attributes:
        values: the validated changes ({} when none, or when the file cannot be used).
        error: why ``admin_settings.json`` cannot be used (names the file, the reason and the
            fix); ``None`` when it can (or does not exist).
    """

    values: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def overrides_path(settings: Settings) -> Path:
    """Where the admin's changes are stored."""
    return settings.paths.index_dir.resolve() / "admin_settings.json"


def _unusable(path: Path, reason: str) -> AdminState:
    return AdminState(
        error=f"The admin settings file {path} cannot be used ({reason}). Until it is fixed or "
        "removed, the cloud model stays off, every document counts as confidential and admin "
        "changes cannot be saved: correct the file by hand, or move it away to start again from "
        "the environment's settings."
    )


def read_overrides(settings: Settings) -> AdminState:
    """The admin's stored changes, validated, or why ``admin_settings.json`` cannot be used.

    A missing file means no changes. Anything else that goes wrong (unreadable, not JSON, not
    an object, a value that does not validate) is an error: the callers fail closed.
    """
    path = overrides_path(settings)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return AdminState()
    except (OSError, UnicodeError) as err:
        return _unusable(path, getattr(err, "strerror", None) or str(err))
    try:
        data = json.loads(text)
    except ValueError as err:
        return _unusable(path, f"not valid JSON: {err}")
    if not isinstance(data, dict):
        return _unusable(path, "not a JSON object")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in KEYS:
            continue  # a key of a later or earlier version: not one this version applies
        try:
            values[key] = _validated(key, value)
        except ConfigError as err:
            return _unusable(path, f"{key}: {err}")
    return AdminState(values)


def load_overrides(settings: Settings) -> dict[str, Any]:
    """The admin's stored changes ({} when none, or when the file cannot be used: see
    `read_overrides` for why)."""
    return read_overrides(settings).values


def effective_settings(settings: Settings) -> Settings:
    """The settings with the admin's run-time changes applied.

    When ``admin_settings.json`` cannot be used, the cloud is switched off and every path is
    confidential (`FAIL_CLOSED`), whatever the environment says.
    """
    state = read_overrides(settings)
    changes = FAIL_CLOSED if state.error else state.values
    if not changes:
        return settings
    updated = settings.model_copy(deep=True)
    for key, value in changes.items():
        if key not in ADJUSTABLE:
            continue
        section, name = ADJUSTABLE[key]
        setattr(getattr(updated, section), name, value)
    return updated


def _validated(key: str, value: Any) -> Any:
    if key == "cloud_allowed":
        if not isinstance(value, bool):
            raise ConfigError("cloud_allowed must be true or false")
        return value
    if key == "confidential_paths":
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            raise ConfigError("confidential_paths must be a list of glob patterns")
        return [p.strip() for p in value if p.strip()]
    if key == LABELS_KEY:
        if not isinstance(value, dict):
            raise ConfigError("sensitivity_overrides must map document paths to labels")
        return {_valid_source(s): _valid_label(label) for s, label in value.items()}
    if key == ACCESS_KEY:
        if not isinstance(value, dict):
            raise ConfigError("access_overrides must map document paths to lists of groups")
        return {_valid_source(s): _valid_groups(groups) for s, groups in value.items()}
    raise ConfigError(f"{key} cannot be changed at run time")


def _valid_source(source: object) -> str:
    """A corpus-relative POSIX path (no absolute path, no ``..``)."""
    path = PurePosixPath(str(source))
    if not str(source) or path.is_absolute() or ".." in path.parts or "\\" in str(source):
        raise ConfigError(f"{source!r} is not a document path relative to the corpus folder")
    return path.as_posix()


def _valid_label(label: object) -> str:
    text = str(label).strip().lower()
    if text not in LABELS:
        raise ConfigError(f"unknown sensitivity label {label!r} (use {', '.join(LABELS)})")
    return text


def _valid_groups(groups: object) -> list[str]:
    """A non-empty list of usable group names, normalised and sorted."""
    if isinstance(groups, str):
        groups = groups.split(",")
    if not isinstance(groups, list | tuple) or not all(isinstance(g, str) for g in groups):
        raise ConfigError(f"{groups!r} is not a list of group names")
    try:
        names = sorted(normalise_groups(groups))
    except IdentityError as err:
        raise ConfigError(str(err)) from err
    if not names:
        raise ConfigError("name at least one group (everyone: every user)")
    return names


def access_overrides(settings: Settings) -> dict[str, list[str]]:
    """The groups an admin set per document (path -> groups); empty when the file cannot be
    used (whoever applies them must then fail closed: `kbchat.access`)."""
    stored = read_overrides(settings).values.get(ACCESS_KEY)
    return {s: list(g) for s, g in stored.items()} if isinstance(stored, dict) else {}


def store_access_override(
    settings: Settings, source: str, groups: list[str] | None
) -> tuple[list[str] | None, list[str] | None]:
    """Store (``None``: remove) an admin's groups for one document; returns (before, after).

    Not audited here: `kbchat.admin.documents.set_document_access` audits the whole change.

    Raises:
        ConfigError: the path or a group is invalid, or ``admin_settings.json`` cannot be used.
    """
    source = _valid_source(source)
    new = None if groups is None else _valid_groups(groups)

    def change(old: Any) -> dict[str, list[str]]:
        current = dict(old) if isinstance(old, dict) else {}
        if new is None:
            current.pop(source, None)
        else:
            current[source] = new
        return current

    before, _after = _store(settings, ACCESS_KEY, change)
    previous = before.get(source) if isinstance(before, dict) else None
    return previous, new


def sensitivity_overrides(settings: Settings) -> dict[str, str]:
    """The labels an admin set per document (path -> label).

    Empty when the file cannot be used; whoever decides what may leave the company must then
    check `read_overrides` and treat every document as confidential (`kbchat.policy.labels`).
    """
    stored = read_overrides(settings).values.get(LABELS_KEY)
    return dict(stored) if isinstance(stored, dict) else {}


def _default(settings: Settings, key: str) -> Any:
    if key in (LABELS_KEY, ACCESS_KEY):
        return {}
    section, name = ADJUSTABLE[key]
    return getattr(getattr(settings, section), name)


def _store(settings: Settings, key: str, change: Callable[[Any], Any]) -> tuple[Any, Any]:
    """Apply ``change`` to the stored value of ``key`` under the lock; returns (before, after)."""
    path = overrides_path(settings)
    with _lock:
        state = read_overrides(settings)
        if state.error:
            raise ConfigError(state.error)
        current = dict(state.values)
        before = current.get(key, _default(settings, key))
        after = change(before)
        current[key] = after
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".admin_settings.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(current, handle, indent=2)
        os.replace(tmp, path)
    return before, after


def set_override(settings: Settings, key: str, value: Any, *, user: str | None = None) -> None:
    """Store an admin's change and write it to the audit log.

    Raises:
        ConfigError: the key cannot be changed at run time, the value is invalid, or
            ``admin_settings.json`` cannot be used (the message says how to fix it).
    """
    if key not in KEYS:
        raise ConfigError(f"{key} cannot be changed at run time")
    value = _validated(key, value)
    before, _after = _store(settings, key, lambda _old: value)
    audit_for(settings).record(
        "setting_changed",
        outcome="ok",
        user=user,
        detail=json.dumps({"setting": key, "from": before, "to": value}),
    )


def set_sensitivity_override(
    settings: Settings, source: str, label: str | None, *, user: str | None = None
) -> None:
    """Set (or, with ``label=None``, remove) an admin's label for one document, audited.

    The label is in force at once (the gate reads it at question time, `kbchat.policy.labels`);
    the next ingestion writes it into the index, re-processing only that file.

    Raises:
        ConfigError: the path or the label is invalid.
    """
    source = _valid_source(source)
    new = None if label is None else _valid_label(label)

    def change(old: Any) -> dict[str, str]:
        labels = dict(old) if isinstance(old, dict) else {}
        if new is None:
            labels.pop(source, None)
        else:
            labels[source] = new
        return labels

    before, _after = _store(settings, LABELS_KEY, change)
    previous = before.get(source) if isinstance(before, dict) else None
    audit_for(settings).record(
        "setting_changed",
        outcome="ok",
        user=user,
        detail=json.dumps({"setting": LABELS_KEY, "source": source, "from": previous, "to": new}),
    )
