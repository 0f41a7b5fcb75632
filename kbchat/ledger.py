"""The quality ledger: every answer with its figures, and what people thought of it.

One SQLite file (WAL, safe for several UI sessions and processes). Thumbs from the chat page
are stored against the answer they rate.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kbchat.answering.service import Answer
from kbchat.settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    session TEXT,
    question TEXT NOT NULL,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    fallback INTEGER NOT NULL,
    answer TEXT NOT NULL,
    sources TEXT NOT NULL,
    cited TEXT NOT NULL,
    ttft_s REAL,
    seconds REAL,
    tokens_in INTEGER,
    tokens_out INTEGER,
    retrieval_s REAL
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    answer_id INTEGER NOT NULL REFERENCES answers(id),
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback(answer_id);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class FeedbackRow:
    """A thumbs up or down on an answer."""

    answer_id: int
    rating: int
    comment: str | None
    at: str


class Ledger:
    """Answers and feedback in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
            self._conn.commit()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def record_answer(
        self,
        question: str,
        answer: Answer,
        *,
        session: str | None = None,
        retrieval_s: float | None = None,
    ) -> int:
        """Store an answer with its figures; returns its id (to attach feedback to)."""
        stats = answer.stats
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO answers(at, session, question, backend, model, fallback, answer, "
                "sources, cited, ttft_s, seconds, tokens_in, tokens_out, retrieval_s) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    session,
                    question,
                    answer.backend,
                    answer.model,
                    int(answer.fallback),
                    answer.text,
                    json.dumps([p.source for p in answer.passages]),
                    json.dumps([c.source for c in answer.citations]),
                    stats.ttft_s if stats else None,
                    stats.seconds if stats else None,
                    stats.tokens_in if stats else None,
                    stats.tokens_out if stats else None,
                    retrieval_s,
                ),
            )
            return int(cursor.lastrowid or 0)

    def record_feedback(self, answer_id: int, rating: int, comment: str | None = None) -> None:
        """Store a thumbs up (1) or down (-1); a later rating of the same answer replaces it.

        Raises:
            ValueError: the rating is not 1 or -1, or the answer does not exist.
        """
        if rating not in (1, -1):
            raise ValueError("rating must be 1 (thumbs up) or -1 (thumbs down)")
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                raise ValueError(f"no answer with id {answer_id}")
            conn.execute("DELETE FROM feedback WHERE answer_id = ?", (answer_id,))
            conn.execute(
                "INSERT INTO feedback(at, answer_id, rating, comment) VALUES (?, ?, ?, ?)",
                (_now(), answer_id, rating, comment),
            )

    def feedback(self, answer_ids: Sequence[int] | None = None) -> list[FeedbackRow]:
        """Feedback rows, newest first (optionally for some answers only)."""
        sql = "SELECT answer_id, rating, comment, at FROM feedback"
        params: list[Any] = []
        if answer_ids is not None:
            sql += f" WHERE answer_id IN ({', '.join('?' * len(answer_ids))})"
            params = list(answer_ids)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id DESC", params).fetchall()
        return [FeedbackRow(r["answer_id"], r["rating"], r["comment"], r["at"]) for r in rows]

    def answers(self, limit: int = 100) -> list[dict[str, Any]]:
        """Recent answers with their figures and rating, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT a.*, f.rating FROM answers a LEFT JOIN feedback f ON f.answer_id = a.id "
                "ORDER BY a.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [dict(row) for row in rows]


_ledgers: dict[Path, Ledger] = {}
_ledgers_lock = threading.Lock()


def ledger_for(settings: Settings) -> Ledger:
    """The ledger of the configured index folder (one per process)."""
    path = settings.paths.index_dir.resolve() / "ledger.sqlite3"
    with _ledgers_lock:
        if path not in _ledgers:
            _ledgers[path] = Ledger(path)
        return _ledgers[path]
