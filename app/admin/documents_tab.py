"""The Documents tab: what is indexed, uploads, a document's label, deleting a document.

Document names and titles are shown in a table (plain text cells) and in escaped messages.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import streamlit as st

from app.admin.common import ADMIN_USER, flash, reingest_after, say
from app.render import when
from kbchat.admin import documents
from kbchat.admin.jobs import current_job
from kbchat.errors import KbchatError
from kbchat.settings import Settings

logger = logging.getLogger(__name__)

_PENDING = "kbchat_admin_pending_replace"  # {source: (name, data, folder)}
_UPLOADER = "kbchat_admin_uploader_round"
_DELETE = "kbchat_admin_confirm_delete"
FROM_DOCUMENT = "(from the document)"


def _size(n: int | None) -> str:
    if n is None:
        return ""
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def _table(rows: list[documents.DocumentRow]) -> list[dict[str, Any]]:
    """Rows for the table, most telling columns first (the page is narrow)."""
    return [
        {
            "Document": row.source,
            "Status": row.status,
            "Sensitivity": row.sensitivity
            + (
                f" (in force; the index says {row.indexed_sensitivity} until the next re-ingest)"
                if row.label_pending
                else ""
            ),
            "Label from": row.label_reason,
            "Readable by": (", ".join(row.access) or "nobody (full access only)")
            if row.sensitivity
            else "",
            "Access from": row.access_reason,
            "Chunks": row.chunks,
            "Last ingested": when(row.last_ingested) if row.last_ingested else "",
            "Error": row.error or "",
            "Link to": row.link_target or "",
            "Format": row.format,
            "Title": row.title,
            "Size": _size(row.size),
        }
        for row in rows
    ]


def _render_list(rows: list[documents.DocumentRow]) -> None:
    indexed = sum(1 for r in rows if r.chunks)
    problems = sum(1 for r in rows if r.status == documents.STATUS_FAILED)
    empty = sum(1 for r in rows if r.status == documents.STATUS_NO_TEXT)
    st.caption(
        f"{indexed} document(s) indexed, {len(rows)} listed"
        + (f", {problems} failed at the last attempt" if problems else "")
        + (f", {empty} skipped with no text to index" if empty else "")
        + ". Changes to the folder reach the index when you re-ingest."
    )
    st.dataframe(_table(rows), hide_index=True, width="stretch", key="admin-documents")


def _save(config: Settings, name: str, data: bytes, folder: str, replace: bool) -> None:
    try:
        saved = documents.save_upload(
            config, name, data, folder=folder, replace=replace, user=ADMIN_USER
        )
    except documents.UploadExistsError as err:
        st.session_state.setdefault(_PENDING, {})[err.source] = (name, data, folder)
        flash("warning", f"{err.source} already exists: replace it or keep it (below).")
    except KbchatError as err:
        flash("error", str(err))
    except Exception:  # one bad file must not cost the rest of the batch
        logger.exception("Saving an upload failed")
        flash("error", "One uploaded file could not be saved; the details are logged.")
    else:
        verb = "replaced" if saved.replaced else "added"
        flash("success", f"{saved.source} {verb}. Re-ingest to bring it into the index.")


def _render_upload(config: Settings) -> None:
    st.subheader("Add documents")
    cap_mb = config.ingest.max_file_mb
    round_ = st.session_state.setdefault(_UPLOADER, 0)
    files = st.file_uploader(
        "Files to add to the document folder",
        accept_multiple_files=True,
        key=f"admin-upload-{round_}",
        max_upload_size=max(1, math.ceil(cap_mb)),
        help=f"Allowed: {', '.join(documents.allowed_extensions())}; at most {cap_mb:g} MB "
        "each. The content is checked, not only the name.",
    )
    folder = st.text_input(
        "Into folder (optional)", key="admin-upload-folder", placeholder="e.g. hr/policies"
    )
    add = st.button(
        "Add to the document folder",
        key="admin-upload-button",
        disabled=not files,
        icon=":material/upload:",
    )
    if add:
        for file in files or []:
            _save(config, file.name, file.getvalue(), folder, replace=False)
        st.session_state[_UPLOADER] = round_ + 1  # a fresh, empty uploader
        st.rerun()
    pending: dict[str, tuple[str, bytes, str]] = st.session_state.get(_PENDING, {})
    for number, (source, (name, data, target)) in enumerate(sorted(pending.items())):
        say("warning", f"{source} already exists. Replace it with the uploaded file?")
        replace, keep = st.columns(2)
        if replace.button("Replace", key=f"admin-replace-{number}", type="primary"):
            pending.pop(source)
            _save(config, name, data, target, replace=True)
            st.rerun()
        if keep.button("Keep the existing file", key=f"admin-keep-{number}"):
            pending.pop(source)
            flash("info", f"{source} was kept as it was.")
            st.rerun()


def _last_run_failed(config: Settings) -> None:
    """An admin-started run that failed is shown here too, with its reason."""
    status = current_job(config)
    if status is not None and status.state in ("failed", "interrupted"):
        say("error", f"The last ingestion ({status.origin}, {when(status.finished_at)}) failed: "
            f"{status.error or 'no reason given'}. Labels are in force regardless; the index "
            "shows them after a re-ingest that completes.")  # fmt: skip


def _render_manage(config: Settings, rows: list[documents.DocumentRow]) -> None:
    st.subheader("Change or delete a document")
    # Skipped links (to outside the folder, broken) are listed so that they can be deleted.
    sources = [
        r.source for r in rows if r.status != documents.STATUS_SKIPPED or r.link_target is not None
    ]
    if not sources:
        st.caption("There are no documents yet.")
        return
    source = st.selectbox("Document", sources, key="admin-document")
    row = next(r for r in rows if r.source == source)
    labels = [FROM_DOCUMENT, *documents.LABELS]
    current = labels.index(row.admin_label) if row.admin_label in labels else 0
    label = st.selectbox(
        "Sensitivity label",
        labels,
        index=current,
        key=f"admin-label-{source}",
        help="In force at once, for every format. The strictest label wins: the document's own "
        "(front matter) when it is stricter, and a confidential path pattern always.",
    )
    if st.button("Save label", key="admin-save-label"):
        chosen = None if label == FROM_DOCUMENT else label
        try:
            decision = documents.set_sensitivity(config, source, chosen, user=ADMIN_USER)
        except KbchatError as err:
            say("error", str(err))
        else:
            flash("success", f"{source}: label set to {label}.")
            if chosen is not None and decision.label != chosen:
                flash("warning", f"{source} stays {decision.label} ({decision.reason}): the "
                      "strictest label wins.")  # fmt: skip
            reingest_after(config, "The new label")
            st.rerun()
    _render_access(config, row)
    _render_delete(config, source)


def _render_access(config: Settings, row: documents.DocumentRow) -> None:
    """Who may read the document: the admin's groups (same core call as `kbchat docs access`)."""
    source = row.source
    shown = ", ".join(row.access) or "nobody (full access only)"
    st.caption(f"Readable by {shown} ({row.access_reason or 'not indexed'}).")
    groups = st.text_input(
        "Readable by groups (comma-separated; empty: from the document, rules and default)",
        value=", ".join(row.admin_access or ()),
        key=f"admin-access-{source}",
        help="In force for the next search, no re-ingest needed. Where the front matter, a "
        "path rule and this setting all name groups, only the groups ALL of them name may read.",
    )
    if st.button("Save access", key="admin-save-access"):
        chosen = [g for g in groups.split(",") if g.strip()] or None
        try:
            decision = documents.set_access(config, source, chosen, user=ADMIN_USER)
        except KbchatError as err:
            say("error", str(err))
        else:
            flash("success", f"{source}: readable by {decision.shown} ({decision.reason}).")
            st.rerun()


def _render_delete(config: Settings, source: str) -> None:
    if st.session_state.get(_DELETE) != source:
        if st.button("Delete this document…", key="admin-delete", icon=":material/delete:"):
            st.session_state[_DELETE] = source
            st.rerun()
        return
    say("warning", f"Delete {source} from the document folder and the index? This cannot be "
        "undone.")  # fmt: skip
    yes, no = st.columns(2)
    if yes.button("Yes, delete it", key="admin-delete-confirm", type="primary"):
        st.session_state.pop(_DELETE, None)
        try:
            documents.delete_document(config, source, user=ADMIN_USER)
        except KbchatError as err:
            flash("error", str(err))
        else:
            flash("success", f"{source} was deleted from the folder and the index.")
        st.rerun()
    if no.button("Cancel", key="admin-delete-cancel"):
        st.session_state.pop(_DELETE, None)
        st.rerun()


def render_documents(config: Settings) -> None:
    """The documents table, the upload form, and changing or deleting one document."""
    try:
        rows = documents.list_documents(config)
    except KbchatError as err:
        say("error", str(err))
        return
    except Exception:
        logger.exception("The document list cannot be read")
        st.error("The document list cannot be read; the details are logged.")
        return
    _last_run_failed(config)
    _render_list(rows)
    _render_upload(config)
    _render_manage(config, rows)
