"""The one way the core stamps a record with the time: UTC, ISO 8601, to the second."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    """The current time as the ledger, the judgements, job status and evaluation runs store it
    (for example ``2026-12-05T12:00:00+00:00``)."""
    return datetime.now(UTC).isoformat(timespec="seconds")
