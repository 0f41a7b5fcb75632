"""The audit log: every cloud call, every refusal by the policy gate, every admin change.

A local SQLite file (WAL). Rows are only ever added. Secrets are never written: callers pass
what happened, and the API key is not among the fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from kbchat.instances import PerProcess
from kbchat.settings import Settings
from vectorstore.sqlite_db import SqliteDatabase

AuditEvent = Literal[
    "cloud_call",
    "gate_refused",
    "setting_changed",
    "document_changed",
    "admin_sign_in",
    "judge_call",
    "sign_in",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    session TEXT,
    user TEXT,
    question TEXT,
    model TEXT,
    passages_sent TEXT NOT NULL DEFAULT '[]',
    passages_withheld TEXT NOT NULL DEFAULT '[]',
    redactions TEXT NOT NULL DEFAULT '{}',
    tokens_in INTEGER,
    tokens_out INTEGER,
    cost_usd REAL,
    outcome TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
"""


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log."""

    id: int
    at: str
    event: str
    session: str | None
    user: str | None
    question: str | None
    model: str | None
    passages_sent: list[str]
    passages_withheld: list[str]
    redactions: dict[str, int]
    tokens_in: int | None
    tokens_out: int | None
    cost_usd: float | None
    outcome: str
    detail: str | None

    def to_dict(self) -> dict[str, Any]:
        """As plain data (``kbchat audit --json``)."""
        return dict(self.__dict__)


class AuditLog:
    """Append-only audit rows in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = SqliteDatabase(path, _SCHEMA, rows_as_dicts=True)
        self._lock = self._db.lock
        self._conn = self._db.conn
        self._transaction = self._db.transaction

    def record(
        self,
        event: AuditEvent,
        *,
        outcome: str,
        session: str | None = None,
        user: str | None = None,
        question: str | None = None,
        model: str | None = None,
        passages_sent: Sequence[str] = (),
        passages_withheld: Sequence[str] = (),
        redactions: Mapping[str, int] | None = None,
        tokens_in: int | None = None,
        tokens_out: int | None = None,
        cost_usd: float | None = None,
        detail: str | None = None,
    ) -> int:
        """Append one row; returns its id."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO audit(at, event, session, user, question, model, passages_sent, "
                "passages_withheld, redactions, tokens_in, tokens_out, cost_usd, outcome, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    datetime.now(UTC).isoformat(timespec="milliseconds"),
                    event,
                    session,
                    user,
                    question,
                    model,
                    json.dumps(list(passages_sent)),
                    json.dumps(list(passages_withheld)),
                    json.dumps(dict(redactions or {}), sort_keys=True),
                    tokens_in,
                    tokens_out,
                    cost_usd,
                    outcome,
                    detail,
                ),
            )
            return int(cursor.lastrowid or 0)

    def entries(
        self,
        limit: int = 100,
        *,
        event: str | None = None,
        since: str | None = None,
        text: str | None = None,
        user: str | None = None,
    ) -> list[AuditEntry]:
        """Rows, newest first.

        Args:
            limit: at most this many rows.
            event: only this event kind.
            since: only rows at or after this ISO time.
            text: only rows whose question, outcome or detail contains this text.
            user: only rows of this user id.
        """
        clauses: list[str] = []
        params: list[Any] = []
        if event:
            clauses.append("event = ?")
            params.append(event)
        if since:
            clauses.append("at >= ?")
            params.append(since)
        if text:
            clauses.append("(question LIKE ? OR outcome LIKE ? OR detail LIKE ?)")
            params += [f"%{text}%"] * 3
        if user:
            clauses.append("user = ?")
            params.append(user)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM audit {where} ORDER BY id DESC LIMIT ?", [*params, limit]
            ).fetchall()
        return [
            AuditEntry(
                id=row["id"],
                at=row["at"],
                event=row["event"],
                session=row["session"],
                user=row["user"],
                question=row["question"],
                model=row["model"],
                passages_sent=json.loads(row["passages_sent"]),
                passages_withheld=json.loads(row["passages_withheld"]),
                redactions=json.loads(row["redactions"]),
                tokens_in=row["tokens_in"],
                tokens_out=row["tokens_out"],
                cost_usd=row["cost_usd"],
                outcome=row["outcome"],
                detail=row["detail"],
            )
            for row in rows
        ]


_logs: PerProcess[Path, AuditLog] = PerProcess()


def audit_for(settings: Settings) -> AuditLog:
    """The audit log of the configured index folder (one per process)."""
    path = settings.paths.index_dir.resolve() / "audit.sqlite3"
    return _logs.get(path, lambda: AuditLog(path))
