"""The documents of the knowledge base as an admin manages them: list, label, delete.

Uploads live in `kbchat.admin.uploads` (re-exported here). Every change is audited. The Admin
page and the ``kbchat docs`` commands both call these functions.

The label listed is the one in force (`kbchat.policy.labels`: what the cloud gate applies at
this moment); the label in the index, written by the last ingestion, is listed beside it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from ingest.corpus_paths import inside_corpus
from ingest.discover import discover
from ingest.links import link_target
from ingest.loaders import SUPPORTED_EXTENSIONS
from ingest.lock import ingest_lock
from ingest.manifest import FileEntry
from ingest.sensitivity import LABELS
from kbchat.access import AccessInForce, current_access
from kbchat.admin.uploads import (
    SavedUpload,
    UploadError,
    UploadExistsError,
    allowed_extensions,
    max_upload_bytes,
    save_upload,
)
from kbchat.audit import audit_for
from kbchat.errors import IngestBusyError, KbchatError
from kbchat.knowledge import index_for, manifest_for, reconcile_access
from kbchat.lower_errors import translated
from kbchat.overrides import (
    ACCESS_KEY,
    access_overrides,
    sensitivity_overrides,
    set_sensitivity_override,
    store_access_override,
)
from kbchat.policy.labels import LabelDecision, current_labels
from kbchat.settings import Settings

__all__ = [
    "LABELS",
    "DocumentError",
    "DocumentRow",
    "LabelDecision",
    "SavedUpload",
    "UploadError",
    "UploadExistsError",
    "allowed_extensions",
    "delete_document",
    "list_documents",
    "max_upload_bytes",
    "save_upload",
    "set_sensitivity",
]

STATUS_INDEXED = "indexed"
STATUS_NEW = "new: not ingested yet"
STATUS_CHANGED = "changed since the last ingest"
STATUS_GONE = "no longer in the folder: removed at the next ingest"
STATUS_FAILED = "last attempt failed"
STATUS_SKIPPED = "skipped"
STATUS_NO_TEXT = "skipped: no text to index"


class DocumentError(KbchatError):
    """A document change was refused; the message says why."""


@dataclass(frozen=True)
class DocumentRow:
    """One document as the admin page lists it."""

    source: str
    title: str
    format: str
    sensitivity: str
    """The label in force now (`kbchat.policy.labels`), the one the cloud gate applies."""
    admin_label: str | None
    """The label an admin set, in force at once (None: front matter or default)."""
    chunks: int
    size: int | None
    """Bytes of the file in the folder (None when it is gone)."""
    last_ingested: str | None
    status: str
    error: str | None
    """Why the last attempt failed (or why the file is skipped)."""
    indexed_sensitivity: str = ""
    """The label in the index, from the last ingestion ('' when not indexed)."""
    label_reason: str = ""
    """Where the label in force comes from, or why it could not be determined."""
    access: tuple[str, ...] = ()
    """The groups that may read it now (`kbchat.access`; empty: full access only)."""
    access_reason: str = ""
    """Where the access in force comes from, or why it could not be determined."""
    admin_access: tuple[str, ...] | None = None
    """The groups an admin set (None: none set)."""
    link_target: str | None = None
    """For a symbolic link: the document it points to (its label rules apply too), or why
    it is not ingested (see ``error``). Deleting the link removes the link, not its target."""

    @property
    def label_pending(self) -> bool:
        """Whether the index still holds another label than the one in force (the next
        re-ingest writes it; the gate applies the one in force meanwhile)."""
        return bool(self.indexed_sensitivity and self.indexed_sensitivity != self.sensitivity)

    def to_dict(self) -> dict[str, object]:
        """The shape of a row of ``kbchat docs list --json``."""
        return {
            "source": self.source,
            "title": self.title,
            "format": self.format,
            "sensitivity": self.sensitivity,
            "label_reason": self.label_reason,
            "indexed_sensitivity": self.indexed_sensitivity or None,
            "admin_label": self.admin_label,
            "chunks": self.chunks,
            "size": self.size,
            "last_ingested": self.last_ingested,
            "status": self.status,
            "error": self.error,
            "access": list(self.access),
            "access_reason": self.access_reason,
            "admin_access": None if self.admin_access is None else list(self.admin_access),
        }


def _changed(path: Path, entry: FileEntry) -> bool:
    try:
        info = path.stat()
        ingested = datetime.fromisoformat(entry.ingested_at).timestamp()
    except (OSError, ValueError):
        return False
    return info.st_size != entry.size or info.st_mtime > ingested + 1


def list_documents(settings: Settings) -> list[DocumentRow]:
    """Every document in the folder or the index, with its status, sorted by path.

    Raises:
        KbchatError: the manifest cannot be read.
    """
    corpus = settings.paths.corpus_dir
    files, skipped = discover(corpus) if corpus.is_dir() else ({}, [])
    manifest = manifest_for(settings)
    entries = manifest.entries()
    failures = manifest.failures()
    no_text = {source: why for source, why in manifest.no_text().items() if source in files}
    labels = sensitivity_overrides(settings)
    in_force = current_labels(settings)
    access = current_access(settings)
    admin_access = access_overrides(settings)
    rows: list[DocumentRow] = []
    for source in sorted(set(files) | set(entries) | set(failures)):
        entry, path = entries.get(source), files.get(source)
        failure = failures.get(source) or no_text.get(source)
        if source in failures:
            status = STATUS_FAILED
        elif source in no_text:
            status = STATUS_NO_TEXT
        elif entry is None:
            status = STATUS_NEW
        elif path is None:
            status = STATUS_GONE
        else:
            status = STATUS_CHANGED if _changed(path, entry) else STATUS_INDEXED
        suffix = PurePosixPath(source).suffix.lower()
        decision = in_force.decide(source)
        readers = access.decide(source)
        rows.append(
            DocumentRow(
                source=source,
                title=entry.title if entry else "",
                format=entry.format if entry else SUPPORTED_EXTENSIONS.get(suffix, suffix),
                sensitivity=decision.label,
                indexed_sensitivity=entry.sensitivity if entry else "",
                label_reason=decision.reason,
                admin_label=labels.get(source),
                chunks=len(entry.chunk_ids) if entry else 0,
                size=_size(path),
                last_ingested=entry.ingested_at if entry else None,
                status=status,
                error=failure[0] if failure else None,
                link_target=link_target(corpus, path) if path is not None else None,
                access=tuple(sorted(readers.groups)),
                access_reason=readers.reason,
                admin_access=(tuple(admin_access[source]) if source in admin_access else None),
            )
        )
    for skip in skipped:
        rows.append(
            DocumentRow(
                source=skip.path,
                title="",
                format=PurePosixPath(skip.path).suffix.lower() or "(none)",
                sensitivity="",
                admin_label=None,
                chunks=0,
                size=_size(corpus / skip.path),
                last_ingested=None,
                status=STATUS_SKIPPED,
                error=skip.reason,
                link_target=_where_link_leads(corpus / skip.path),
            )
        )
    return sorted(rows, key=lambda row: row.source)


def _size(path: Path | None) -> int | None:
    try:
        return path.stat().st_size if path is not None else None
    except OSError:
        return None


def _where_link_leads(path: Path) -> str | None:
    """A skipped link's target as the admin page shows it (None: not a link)."""
    if not path.is_symlink():
        return None
    try:
        return str(path.readlink())
    except OSError:
        return "(unreadable link)"


def _known(settings: Settings, source: str) -> tuple[str, Path]:
    """A document path that is in the folder or the index, and its file inside the corpus.

    Only the folders are resolved, not the last part: for a symbolic link this is the link
    itself (deleting it removes the link, never the file it points to, wherever that is).
    """
    relative = PurePosixPath(source)
    path = None
    if not relative.is_absolute() and ".." not in relative.parts:
        path = inside_corpus(settings.paths.corpus_dir, relative, follow_link=False)
    if path is None:
        raise DocumentError(f"{source} is not a document in the document folder.")
    present = path.is_file() or path.is_symlink()
    if not present and source not in manifest_for(settings).entries():
        raise DocumentError(f"{source} is neither in the document folder nor in the index.")
    return PurePosixPath(source).as_posix(), path


def delete_document(settings: Settings, source: str, *, user: str | None = None) -> None:
    """Delete a document from the corpus folder and its chunks from the index (audited).

    Runs under the ingestion lock, with the same journal an ingestion uses, so a crash at any
    point converges at the next ingestion.

    Raises:
        DocumentError: the document is unknown, or an ingestion is running.
        KbchatError: the file or the index cannot be changed.
    """
    source, path = _known(settings, source)
    index_dir = settings.paths.index_dir.resolve()
    try:
        with (
            translated(unavailable_fix=f"Run ingestion again to finish removing {source}."),
            ingest_lock(index_dir),
        ):
            try:
                path.unlink(missing_ok=True)
            except OSError as err:
                raise DocumentError(f"{source} cannot be deleted ({err.strerror}).") from err
            manifest = manifest_for(settings)
            entry = manifest.entries().get(source)
            manifest.journal_begin(source, [])
            if entry is not None:
                index_for(settings).delete(entry.chunk_ids)
            manifest.remove_file(source)
    except IngestBusyError:
        raise DocumentError(
            f"An ingestion is running, so {source} was not deleted: try again when it has finished."
        ) from None
    if source in sensitivity_overrides(settings):
        set_sensitivity_override(settings, source, None, user=user)
    if source in access_overrides(settings):
        store_access_override(settings, source, None)
    audit_for(settings).record(
        "document_changed",
        outcome="ok",
        user=user,
        detail=json.dumps({"action": "deleted", "source": source}),
    )


def set_sensitivity(
    settings: Settings, source: str, label: str | None, *, user: str | None = None
) -> LabelDecision:
    """Give a document an admin's sensitivity label (``None``: back to front matter/default).

    Works for every format and is in force at once: the cloud gate reads it at the next
    question. The next ingestion writes it into the index, re-processing only this file.

    Returns:
        The label in force afterwards, and why: stricter than ``label`` when the front matter
        or a confidential path pattern says so (the strictest wins).

    Raises:
        DocumentError: the document is unknown.
        ConfigError: the label is not one of `LABELS`, or the admin settings file cannot be
            used.
    """
    source, _path = _known(settings, source)
    set_sensitivity_override(settings, source, label, user=user)
    return current_labels(settings).decide(source)


def set_document_access(
    settings: Settings, source: str, groups: Iterable[str] | None, *, user: str | None = None
) -> AccessInForce:
    """Set (``None``: remove) the admin's groups for one document, in force for the next search.

    Stores the setting (``admin_settings.json``), rewrites the stored access of the document's
    chunks in both indexes at once (no re-embedding) and writes the change to the audit log.

    Returns:
        The document's access in force afterwards (the intersection with its front matter and
        the path rules, see `ingest.access`).

    Raises:
        ConfigError: the path or a group is invalid, or ``admin_settings.json`` cannot be used.
    """
    before, after = store_access_override(
        settings, source, None if groups is None else list(groups)
    )
    relative = PurePosixPath(source).as_posix()
    current = current_access(settings)
    reconcile_access(settings, [relative], current)
    decision = current.decide(relative)
    audit_for(settings).record(
        "setting_changed",
        outcome="ok",
        user=user,
        detail=json.dumps(
            {
                "setting": ACCESS_KEY,
                "source": relative,
                "from": before,
                "to": after,
                "in_force": sorted(decision.groups),
            }
        ),
    )
    return decision


def set_access(
    settings: Settings, source: str, groups: Sequence[str] | None, *, user: str | None = None
) -> AccessInForce:
    """Set which groups may read a document (``None``: back to front matter, rules, default).

    In force for the next search without a re-ingest: the document's chunks' stored access is
    rewritten in both indexes (`set_document_access`); audited.

    Returns:
        The access in force afterwards, and why: only the groups that the front matter, the
        path rules and the admin ALL name (the strictest wins).

    Raises:
        DocumentError: the document is unknown.
        ConfigError: a group name cannot be used, or the admin settings file cannot be used.
    """
    source, _path = _known(settings, source)
    return set_document_access(settings, source, groups, user=user)
