"""The Audit log and Ledger tabs: filter, read (plain-text table cells), export as CSV."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from kbchat.admin.logs import AUDIT_EVENTS, audit_rows, ledger_rows, to_csv
from kbchat.settings import Settings

ALL = "all"
LIMIT = 1000


def _dates(prefix: str) -> tuple[date | None, date | None]:
    since, until = st.columns(2)
    start = since.date_input("From", value=None, key=f"{prefix}-since")
    end = until.date_input("To", value=None, key=f"{prefix}-until")
    return (
        start if isinstance(start, date) else None,
        end if isinstance(end, date) else None,
    )


def render_audit(config: Settings) -> None:
    """Audit rows, filtered by event, dates and text, with a CSV download."""
    event = st.selectbox("Event", [ALL, *AUDIT_EVENTS], key="audit-event")
    since, until = _dates("audit")
    text = st.text_input("Containing", key="audit-text", placeholder="question, outcome, detail")
    user = st.text_input("User", key="audit-user", placeholder="user id, e.g. alice@example.com")
    rows = audit_rows(
        config,
        event=None if event == ALL else event,
        since=since,
        until=until,
        text=text.strip() or None,
        limit=LIMIT,
        user=user.strip() or None,
    )
    _show_rows(rows, "audit", "row(s)")


def render_ledger(config: Settings) -> None:
    """Recorded answers with figures and ratings, filtered, with a CSV download."""
    all_rows = ledger_rows(config, limit=LIMIT)
    models = sorted({str(r["model"]) for r in all_rows if r.get("model")})
    model = st.selectbox("Model", [ALL, *models], key="ledger-model")
    since, until = _dates("ledger")
    text = st.text_input("Containing", key="ledger-text", placeholder="question, answer, source")
    rows = ledger_rows(
        config,
        since=since,
        until=until,
        text=text.strip() or None,
        model=None if model == ALL else model,
        limit=LIMIT,
    )
    _show_rows(rows, "ledger", "answer(s)")


def _show_rows(rows: list[dict[str, Any]], name: str, noun: str) -> None:
    """A log's filtered rows: their count, the table and its CSV download (``kbchat-NAME.csv``)."""
    st.caption(f"{len(rows)} {noun}, newest first (at most {LIMIT}).")
    st.dataframe(rows, hide_index=True, width="stretch", key=f"{name}-table")
    st.download_button(
        "Download CSV",
        data=to_csv(rows),
        file_name=f"kbchat-{name}.csv",
        mime="text/csv",
        key=f"{name}-csv",
        on_click="ignore",
        icon=":material/download:",
    )
