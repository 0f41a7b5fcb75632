"""The quality ledger: every answer with its figures, and what people thought of it.

One SQLite file (WAL, safe for several UI sessions and processes). Thumbs from the chat page
are stored against the answer they rate. Every row names the user it belongs to
(``user_id``): the user an answer or comparison was made for, the user who gave a thumb or a
judgement. One thumb per user per answer and one judgement per user per comparison: a later
one replaces it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbchat import judge_store
from kbchat.answering.prompt import Passage
from kbchat.answering.service import Answer
from kbchat.clock import now_iso
from kbchat.compare import Comparison
from kbchat.instances import PerProcess
from kbchat.settings import Settings
from vectorstore.sqlite_db import SqliteDatabase

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
CREATE TABLE IF NOT EXISTS comparisons (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    session TEXT,
    question TEXT NOT NULL,
    topic TEXT,
    private_answer_id INTEGER REFERENCES answers(id),
    cloud_answer_id INTEGER REFERENCES answers(id),
    agreement REAL,
    wall_s REAL,
    withheld INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS judgements (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    comparison_id INTEGER NOT NULL REFERENCES comparisons(id),
    user_id TEXT NOT NULL DEFAULT '',
    verdict TEXT NOT NULL CHECK (verdict IN ('private', 'cloud', 'tie', 'both_wrong')),
    comment TEXT,
    UNIQUE (comparison_id, user_id)
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
# Columns added after the first release of the ledger: added in place to older files.
_ADDED_COLUMNS = {
    "answers": {"groundedness": "REAL", "cost_usd": "REAL", "topic": "TEXT", "user_id": "TEXT"},
    "comparisons": {"user_id": "TEXT"},
    "feedback": {"user_id": "TEXT NOT NULL DEFAULT ''"},
}
# Judgements of a ledger from before user ids were one per comparison (UNIQUE(comparison_id)):
# the table is rebuilt with one per user per comparison, the old rows kept under user ''.
_JUDGEMENTS_PER_USER = """
CREATE TABLE judgements_per_user (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    comparison_id INTEGER NOT NULL REFERENCES comparisons(id),
    user_id TEXT NOT NULL DEFAULT '',
    verdict TEXT NOT NULL CHECK (verdict IN ('private', 'cloud', 'tie', 'both_wrong')),
    comment TEXT,
    UNIQUE (comparison_id, user_id)
);
INSERT INTO judgements_per_user(id, at, comparison_id, user_id, verdict, comment)
    SELECT id, at, comparison_id, '', verdict, comment FROM judgements;
DROP TABLE judgements;
ALTER TABLE judgements_per_user RENAME TO judgements;
"""
VERDICTS = ("private", "cloud", "tie", "both_wrong")


def topic_of(passages: Sequence[Passage]) -> str | None:
    """The topic of a question: the top-level folder of its best passage ("" at the root)."""
    if not passages:
        return None
    source = passages[0].source
    return source.split("/", 1)[0] if "/" in source else "(root)"


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
        self._db = SqliteDatabase(path, _SCHEMA, rows_as_dicts=True)
        self._lock = self._db.lock
        self._conn = self._db.conn
        self._transaction = self._db.transaction
        for table, columns in _ADDED_COLUMNS.items():
            self._db.add_missing_columns(table, columns)
        self._judgements_per_user()
        judge_store.ensure_schema(self._db)

    def _judgements_per_user(self) -> None:
        with self._lock:
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(judgements)")}
            if "user_id" not in columns:
                self._conn.executescript(f"BEGIN;{_JUDGEMENTS_PER_USER}COMMIT;")

    @property
    def database(self) -> SqliteDatabase:
        """The ledger's SQLite file (shared with `kbchat.judge_store`)."""
        return self._db

    def record_answer(
        self,
        question: str,
        answer: Answer,
        *,
        session: str | None = None,
        retrieval_s: float | None = None,
        user: str | None = None,
    ) -> int:
        """Store an answer with its figures and its user; returns its id (for feedback)."""
        stats = answer.stats
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO answers(at, session, question, backend, model, fallback, answer, "
                "sources, cited, ttft_s, seconds, tokens_in, tokens_out, retrieval_s, "
                "groundedness, cost_usd, topic, user_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now_iso(),
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
                    answer.groundedness,
                    answer.cost_usd,
                    topic_of(answer.passages),
                    user,
                ),
            )
            return int(cursor.lastrowid or 0)

    def record_comparison(
        self,
        comparison: Comparison,
        *,
        session: str | None = None,
        user: str | None = None,
    ) -> int:
        """Store both answers of a comparison and the comparison itself; returns its id."""
        retrieval = comparison.retrieval
        ids: dict[str, int | None] = {"private": None, "cloud": None}
        for side in ("private", "cloud"):
            answer = getattr(comparison, side)
            if answer is not None and answer.answered_by_model and not answer.error:
                ids[side] = self.record_answer(
                    comparison.question,
                    answer,
                    session=session,
                    retrieval_s=retrieval.seconds,
                    user=user,
                )
        withheld = len(comparison.decision.withheld) if comparison.decision else 0
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO comparisons(at, session, question, topic, private_answer_id, "
                "cloud_answer_id, agreement, wall_s, withheld, user_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now_iso(),
                    session,
                    comparison.question,
                    topic_of(retrieval.passages),
                    ids["private"],
                    ids["cloud"],
                    comparison.agreement,
                    comparison.wall_s,
                    withheld,
                    user,
                ),
            )
            comparison_id = int(cursor.lastrowid or 0)
            judge_store.write_evidence(conn, comparison_id, comparison)
            return comparison_id

    def record_judgement(
        self,
        comparison_id: int,
        verdict: str,
        comment: str | None = None,
        *,
        user: str | None = None,
    ) -> None:
        """Store which answer of a comparison was better, by this user (a later judgement of
        the same user replaces theirs; other users' judgements stay).

        Raises:
            ValueError: unknown verdict or comparison.
        """
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
        with self._transaction() as conn:
            found = conn.execute("SELECT 1 FROM comparisons WHERE id = ?", (comparison_id,))
            if found.fetchone() is None:
                raise ValueError(f"no comparison with id {comparison_id}")
            conn.execute(
                "INSERT INTO judgements(at, comparison_id, user_id, verdict, comment) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(comparison_id, user_id) DO UPDATE SET at=excluded.at, "
                "verdict=excluded.verdict, comment=excluded.comment",
                (now_iso(), comparison_id, user or "", verdict, comment or None),
            )

    def judgements(self) -> list[dict[str, Any]]:
        """Every judgement with its comparison's question, topic, date and figures."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT j.at AS judged_at, substr(c.at, 1, 10) AS day, c.question, c.topic, "
                "j.user_id, "
                "j.verdict, j.comment, c.agreement, c.wall_s, c.withheld, "
                "p.groundedness AS private_groundedness, q.groundedness AS cloud_groundedness, "
                "p.seconds AS private_seconds, q.seconds AS cloud_seconds "
                "FROM judgements j JOIN comparisons c ON c.id = j.comparison_id "
                "LEFT JOIN answers p ON p.id = c.private_answer_id "
                "LEFT JOIN answers q ON q.id = c.cloud_answer_id ORDER BY j.id"
            ).fetchall()
        return [dict(row) for row in rows]

    def record_feedback(
        self, answer_id: int, rating: int, comment: str | None = None, *, user: str | None = None
    ) -> None:
        """Store a thumbs up (1) or down (-1) by this user; their later rating of the same
        answer replaces it.

        Raises:
            ValueError: the rating is not 1 or -1, or the answer does not exist.
        """
        if rating not in (1, -1):
            raise ValueError("rating must be 1 (thumbs up) or -1 (thumbs down)")
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                raise ValueError(f"no answer with id {answer_id}")
            conn.execute(
                "DELETE FROM feedback WHERE answer_id = ? AND user_id = ?", (answer_id, user or "")
            )
            conn.execute(
                "INSERT INTO feedback(at, answer_id, rating, comment, user_id) "
                "VALUES (?, ?, ?, ?, ?)",
                (now_iso(), answer_id, rating, comment, user or ""),
            )

    def clear_feedback(self, answer_id: int, *, user: str | None = None) -> None:
        """Withdraw this user's rating of an answer (a thumb un-selected)."""
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM feedback WHERE answer_id = ? AND user_id = ?", (answer_id, user or "")
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

    def answers(
        self, limit: int = 100, *, backend: str | None = None, user: str | None = None
    ) -> list[dict[str, Any]]:
        """Recent answers with their figures and the rating of the user they were made for,
        newest first (one user's only, when ``user`` is given)."""
        conditions: list[str] = []
        params: list[Any] = []
        if backend:
            conditions.append("a.backend = ?")
            params.append(backend)
        if user is not None:
            conditions.append("a.user_id = ?")
            params.append(user)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        with self._lock:
            rows = self._conn.execute(
                "SELECT a.*, f.rating FROM answers a LEFT JOIN feedback f "
                "ON f.answer_id = a.id AND f.user_id = COALESCE(a.user_id, '') "
                f"{where} ORDER BY a.id DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [dict(row) for row in rows]


_ledgers: PerProcess[Path, Ledger] = PerProcess()


def ledger_for(settings: Settings) -> Ledger:
    """The ledger of the configured index folder (one per process)."""
    path = settings.paths.index_dir.resolve() / "ledger.sqlite3"
    return _ledgers.get(path, lambda: Ledger(path))
