"""What the judge needs and what it said, kept in the quality ledger's file.

Two kinds of rows, apart from the human verdicts (``judgements``):

- the evidence of each comparison: the passages both models answered from (text as it was
  then, label, source) and whether the conversation before it drew on a confidential passage,
  written with the comparison, so a comparison can be judged later on exactly what the models
  saw;
- the judge's verdicts, one per comparison and judge model: the combined verdict (None when
  a reply was unparseable), the reason, and both orders' raw replies.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kbchat.clock import now_iso
from kbchat.judge import EvidencePassage, JudgeOutcome
from vectorstore.sqlite_db import SqliteDatabase

if TYPE_CHECKING:
    from kbchat.compare import Comparison
    from kbchat.ledger import Ledger

SCHEMA = """
CREATE TABLE IF NOT EXISTS comparison_passages (
    comparison_id INTEGER NOT NULL REFERENCES comparisons(id),
    n INTEGER NOT NULL,
    chunk_id TEXT NOT NULL,
    source TEXT NOT NULL,
    sensitivity TEXT,
    text TEXT NOT NULL,
    PRIMARY KEY (comparison_id, n)
);
CREATE TABLE IF NOT EXISTS comparison_context (
    comparison_id INTEGER PRIMARY KEY REFERENCES comparisons(id),
    history_confidential INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS judge_verdicts (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    comparison_id INTEGER NOT NULL REFERENCES comparisons(id),
    judge_model TEXT NOT NULL,
    verdict TEXT CHECK (verdict IS NULL OR verdict IN ('private', 'cloud', 'tie', 'both_wrong')),
    status TEXT NOT NULL CHECK (status IN ('ok', 'unparseable')),
    reason TEXT,
    replies TEXT NOT NULL,
    UNIQUE (comparison_id, judge_model)
);
"""


def ensure_schema(db: SqliteDatabase) -> None:
    """Create the judge's tables in a ledger file that lacks them."""
    with db.lock:
        db.conn.executescript(SCHEMA)
        db.conn.commit()


def write_evidence(conn: sqlite3.Connection, comparison_id: int, comparison: Comparison) -> None:
    """Store the passages and the history flag of a comparison (inside its transaction)."""
    for passage in comparison.retrieval.passages:
        conn.execute(
            "INSERT OR REPLACE INTO comparison_passages(comparison_id, n, chunk_id, source, "
            "sensitivity, text) VALUES (?, ?, ?, ?, ?, ?)",
            (
                comparison_id,
                passage.n,
                passage.hit.chunk_id,
                passage.source,
                str(passage.hit.metadata.get("sensitivity") or "") or None,
                passage.hit.text,
            ),
        )
    conn.execute(
        "INSERT OR REPLACE INTO comparison_context(comparison_id, history_confidential) "
        "VALUES (?, ?)",
        (comparison_id, int(comparison.history_confidential)),
    )


@dataclass(frozen=True)
class StoredPassage:
    """A passage of a recorded comparison."""

    n: int
    chunk_id: str
    source: str
    sensitivity: str | None
    text: str

    def for_judge(self) -> EvidencePassage:
        """As the judge sees it."""
        return EvidencePassage(self.n, self.source, self.text)


@dataclass(frozen=True)
class Judgeable:
    """A recorded comparison with both answers, and its evidence (None if not kept)."""

    comparison_id: int
    at: str
    question: str
    private: str
    cloud: str
    passages: list[StoredPassage] | None
    history_confidential: bool


class JudgeStore:
    """The judge's rows in a ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._db = ledger.database

    def candidates(
        self,
        judge_model: str,
        *,
        since: str | None = None,
        limit: int | None = None,
        again: bool = False,
        comparison_ids: Sequence[int] | None = None,
    ) -> list[Judgeable]:
        """Comparisons with both answers, oldest first, not yet judged by ``judge_model``.

        Args:
            judge_model: the judge's model name.
            since: only comparisons at or after this ISO date or time.
            limit: at most this many.
            again: include comparisons this judge already judged.
            comparison_ids: only these comparisons.
        """
        clauses = ["c.private_answer_id IS NOT NULL", "c.cloud_answer_id IS NOT NULL"]
        params: list[Any] = []
        if not again:
            clauses.append(
                "NOT EXISTS (SELECT 1 FROM judge_verdicts v WHERE v.comparison_id = c.id "
                "AND v.judge_model = ?)"
            )
            params.append(judge_model)
        if since:
            clauses.append("c.at >= ?")
            params.append(since)
        if comparison_ids is not None:
            clauses.append(f"c.id IN ({', '.join('?' * len(comparison_ids))})")
            params += list(comparison_ids)
        sql = (
            "SELECT c.id, c.at, c.question, p.answer AS private, q.answer AS cloud, "
            "x.history_confidential FROM comparisons c "
            "JOIN answers p ON p.id = c.private_answer_id "
            "JOIN answers q ON q.id = c.cloud_answer_id "
            "LEFT JOIN comparison_context x ON x.comparison_id = c.id "
            f"WHERE {' AND '.join(clauses)} ORDER BY c.id"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._db.read(sql, params)
        found: list[Judgeable] = []
        for row in rows:
            passages = self._db.read(
                "SELECT n, chunk_id, source, sensitivity, text FROM comparison_passages "
                "WHERE comparison_id = ? ORDER BY n",
                (row["id"],),
            )
            kept = row["history_confidential"] is not None
            found.append(
                Judgeable(
                    comparison_id=row["id"],
                    at=row["at"],
                    question=row["question"],
                    private=row["private"],
                    cloud=row["cloud"],
                    passages=[StoredPassage(*p) for p in passages] if kept else None,
                    history_confidential=bool(row["history_confidential"]),
                )
            )
        return found

    def record(self, comparison_id: int, outcome: JudgeOutcome) -> None:
        """Store a judge's verdict on a comparison (a later one by the same judge replaces it)."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO judge_verdicts(at, comparison_id, judge_model, verdict, status, "
                "reason, replies) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(comparison_id, judge_model) DO UPDATE SET at=excluded.at, "
                "verdict=excluded.verdict, status=excluded.status, reason=excluded.reason, "
                "replies=excluded.replies",
                (
                    now_iso(),
                    comparison_id,
                    outcome.model,
                    outcome.verdict,
                    "ok" if outcome.parsed else "unparseable",
                    outcome.reason,
                    json.dumps(outcome.to_dict()["orders"], ensure_ascii=False),
                ),
            )

    def verdicts(self, judge_model: str | None = None) -> list[dict[str, Any]]:
        """The judge's rows (of one judge model, or all), oldest first."""
        where, params = ("WHERE judge_model = ?", [judge_model]) if judge_model else ("", [])
        rows = self._db.read(
            "SELECT comparison_id, at, judge_model, verdict, status, reason, replies "
            f"FROM judge_verdicts {where} ORDER BY id",
            params,
        )
        return [dict(row) for row in rows]

    def comparison_rows(self, judge_model: str) -> list[dict[str, Any]]:
        """Every comparison with both answers: its topic, best source, the human verdict and
        ``judge_model``'s verdict (None where there is none or it was unparseable)."""
        rows = self._db.read(
            "SELECT c.id AS comparison_id, c.at, c.topic, "
            "(SELECT source FROM comparison_passages s WHERE s.comparison_id = c.id "
            " ORDER BY s.n LIMIT 1) AS best_source, "
            "j.verdict AS human, v.verdict AS judge FROM comparisons c "
            "LEFT JOIN judgements j ON j.comparison_id = c.id "
            "LEFT JOIN judge_verdicts v ON v.comparison_id = c.id AND v.judge_model = ? "
            "AND v.status = 'ok' "
            "WHERE c.private_answer_id IS NOT NULL AND c.cloud_answer_id IS NOT NULL "
            "ORDER BY c.id",
            (judge_model,),
        )
        return [dict(row) for row in rows]
