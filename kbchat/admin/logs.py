"""The audit log and the quality ledger as tables an admin filters and exports as CSV."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, get_args

from kbchat.audit import AuditEvent, audit_for
from kbchat.csv_export import _plain, to_csv
from kbchat.ledger import ledger_for
from kbchat.settings import Settings

__all__ = ["AUDIT_EVENTS", "audit_rows", "ledger_rows", "to_csv"]

AUDIT_EVENTS: tuple[str, ...] = get_args(AuditEvent)
LEDGER_SCAN = 20_000  # newest answers searched by the ledger filters


def _day_after(day: date) -> str:
    return (day + timedelta(days=1)).isoformat()


def audit_rows(
    settings: Settings,
    *,
    event: str | None = None,
    since: date | None = None,
    until: date | None = None,
    text: str | None = None,
    limit: int = 1000,
    user: str | None = None,
) -> list[dict[str, Any]]:
    """Audit rows, newest first, filtered by event kind, days (inclusive), text and user."""
    entries = audit_for(settings).entries(
        limit if until is None else limit * 10,
        event=event or None,
        since=since.isoformat() if since else None,
        text=text or None,
        user=user or None,
    )
    end = _day_after(until) if until else None
    rows = [
        {key: _plain(value) for key, value in entry.to_dict().items()}
        for entry in entries
        if end is None or entry.at < end
    ]
    return rows[:limit]


def _matches(row: dict[str, Any], needle: str) -> bool:
    fields = (row.get("question"), row.get("answer"), row.get("sources"), row.get("model"))
    return any(needle in str(value).casefold() for value in fields if value)


def ledger_rows(
    settings: Settings,
    *,
    since: date | None = None,
    until: date | None = None,
    text: str | None = None,
    model: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Ledger answers with their figures and rating, newest first, filtered.

    Args:
        settings: the settings (the ledger's folder).
        since: first day (inclusive).
        until: last day (inclusive).
        text: only answers whose question, answer, sources or model contain it (any case).
        model: only answers of this model.
        limit: at most this many rows (of the newest `LEDGER_SCAN` answers).
    """
    start = since.isoformat() if since else None
    end = _day_after(until) if until else None
    needle = text.casefold() if text else None
    rows: list[dict[str, Any]] = []
    for row in ledger_for(settings).answers(limit=LEDGER_SCAN):
        at = str(row.get("at", ""))
        if (start and at < start) or (end and at >= end):
            continue
        if model and row.get("model") != model:
            continue
        if needle and not _matches(row, needle):
            continue
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows
