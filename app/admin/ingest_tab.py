"""The Re-ingest tab: start a run in the background, watch its progress, read its report.

The run belongs to the server process, not to this page: a reloaded page (or another admin)
finds it and follows it, and users keep chatting meanwhile.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.admin.common import ADMIN_USER, say
from app.render import label_markdown, when
from kbchat.admin.jobs import current_job, start_reingest
from kbchat.errors import KbchatError
from kbchat.ingestion import JobStatus
from kbchat.settings import Settings

POLL_S = 1.0
PHASES = {
    "starting": "Starting",
    "scanning": "Checking files",
    "removing": "Removing deleted files",
    "ingesting": "Reading files",
    "writing": "Writing to the index",
    "done": "Finishing",
}


def _progress(status: JobStatus) -> None:
    phase = PHASES.get(status.phase, status.phase)
    counts = f" {status.done} of {status.total}" if status.total else ""
    current = f": {status.current}" if status.current else ""
    st.progress(status.fraction, text=label_markdown(f"{phase}{counts}{current}"))
    st.caption(
        f"Re-ingestion started from the {status.origin} at {when(status.started_at)} is running. "
        "Users can keep chatting; answers use the index as it is."
    )


def _per_file(status: JobStatus) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for result, paths in (status.files or {}).items():
        rows += [{"Document": path, "Result": result, "Reason": ""} for path in paths]
    report = status.report or {}
    for kind, result in (("failed", "failed"), ("skipped", "skipped")):
        for item in report.get(kind, []):
            rows.append({"Document": item["path"], "Result": result, "Reason": item["reason"]})
    return rows


def _report(status: JobStatus) -> None:
    finished = when(status.finished_at)
    if status.state != "done":
        say("error", f"The last ingestion ({status.origin}, {finished}) did not complete: "
            f"{status.error or 'no reason given'}")  # fmt: skip
        return
    r = status.report or {}
    st.success(
        f"The last ingestion ({status.origin}) finished at {finished}: "
        f"{r.get('files_added', 0)} added, {r.get('files_updated', 0)} updated, "
        f"{r.get('files_removed', 0)} removed, {r.get('files_unchanged', 0)} unchanged, "
        f"{len(r.get('failed', []))} failed, {len(r.get('skipped', []))} skipped; "
        f"{r.get('chunks_total', 0)} chunks in the index, "
        f"in {float(r.get('seconds', 0)):.1f} s."
    )
    for note in r.get("notes", []):
        st.info(f"{note[:1].upper()}{note[1:]}.")
    rows = _per_file(status)
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch", key="admin-ingest-report")


def _status_view(config: Settings, was_running: bool) -> None:
    status = current_job(config)
    if status is None:
        st.caption("No ingestion has run since this index was created.")
    elif status.running:
        _progress(status)
    elif was_running:
        st.rerun()  # finished: redraw the whole page (document list, report, no polling)
    else:
        _report(status)


def render_reingest(config: Settings) -> None:
    """The start button, then the live progress or the last run's report."""
    st.caption(
        "Brings the index in step with the document folder: new and changed files are read "
        "and embedded, deleted ones removed; unchanged files cost a hash check."
    )
    full = st.checkbox("Full rebuild (re-read and re-embed everything)", key="admin-full")
    if st.button("Re-ingest now", key="admin-reingest", type="primary", icon=":material/sync:"):
        try:
            start_reingest(config, full=full, user=ADMIN_USER)
        except KbchatError as err:  # running already, or could not start
            say("error", str(err))
    status = current_job(config)
    running = status is not None and status.running
    view = st.fragment(_status_view, run_every=POLL_S if running else None)
    view(config, running)
