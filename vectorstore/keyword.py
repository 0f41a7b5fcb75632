"""The keyword (BM25) side of hybrid search: SQLite FTS5, under the same chunk ids as Chroma.

FTS5 was chosen over ``bm25s`` by measurement (``benchmarks/bm25_choice.py``, figures in the
README): query latency is comparable at our sizes, while FTS5 updates incrementally inside
transactions, survives a killed process, and is read by other processes while one writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from vectorstore.access import access_metadata, access_sql, is_group_key
from vectorstore.records import ChunkRecord, Filters, Metadata
from vectorstore.sqlite_db import SqliteDatabase

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STOPWORD_TEXT = """a an and are as at be but by can do does for from has have how i if in into is
it its me my of on or our so than that the their them then there these they this to was we what
when where which who why will with you your"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    body TEXT NOT NULL,
    metadata TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    body, content='chunks', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, body) VALUES (new.rowid, new.body);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
END;
CREATE TRIGGER IF NOT EXISTS chunks_au AFTER UPDATE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
    INSERT INTO chunks_fts(rowid, body) VALUES (new.rowid, new.body);
END;
"""


def query_terms(query: str) -> list[str]:
    """Split a question into lower-cased search terms, without stop words or duplicates."""
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(query.lower()):
        if token not in STOPWORDS and len(token) > 1:
            seen.setdefault(token, None)
    return list(seen)


def filter_sql(filters: Filters | None) -> tuple[str, list[object]]:
    """Translate metadata filters to a SQL condition on ``chunks.metadata``.

    Args:
        filters: key -> value (equality) or key -> sequence of values (any of them).

    Returns:
        A condition (``"1"`` when there is none) and its parameters.
    """
    if not filters:
        return "1", []
    clauses: list[str] = []
    params: list[object] = []
    for key, wanted in filters.items():
        if not _KEY.match(key):
            raise ValueError(f"invalid metadata key in filter: {key!r}")
        column = f"json_extract(chunks.metadata, '$.{key}')"
        if isinstance(wanted, (list, tuple, set, frozenset)):
            values = list(wanted)
            if not values:
                return "0", []
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
        else:
            clauses.append(f"{column} = ?")
            params.append(wanted)
    return " AND ".join(clauses), params


class KeywordIndex:
    """BM25 search over chunk bodies, stored in one SQLite file.

    Safe to share between threads (one connection, serialised) and between processes (WAL:
    readers see the last committed state while a writer works).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = SqliteDatabase(path, _SCHEMA)
        self._lock = self._db.lock
        self._conn = self._db.conn
        self._transaction = self._db.transaction

    def upsert(self, records: Sequence[ChunkRecord]) -> None:
        """Insert or replace chunks (one transaction)."""
        if not records:
            return
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO chunks(chunk_id, text, body, metadata) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(chunk_id) DO UPDATE SET text=excluded.text, body=excluded.body, "
                "metadata=excluded.metadata",
                [
                    (r.chunk_id, r.text, r.embed_text, json.dumps(dict(r.metadata), sort_keys=True))
                    for r in records
                ],
            )

    def delete(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks by id (unknown ids are ignored)."""
        ids = [(cid,) for cid in chunk_ids]
        if not ids:
            return
        with self._transaction() as conn:
            conn.executemany("DELETE FROM chunks WHERE chunk_id = ?", ids)

    def clear(self) -> None:
        """Remove every chunk."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM chunks")

    def count(self) -> int:
        """Number of chunks."""
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def ids(self) -> set[str]:
        """Every chunk id."""
        with self._lock:
            return {row[0] for row in self._conn.execute("SELECT chunk_id FROM chunks")}

    def get(self, chunk_ids: Sequence[str]) -> dict[str, tuple[str, Metadata]]:
        """Text and metadata of the given chunks (missing ids are absent from the result)."""
        found: dict[str, tuple[str, Metadata]] = {}
        with self._lock:
            for start in range(0, len(chunk_ids), 500):
                batch = list(chunk_ids[start : start + 500])
                rows = self._conn.execute(
                    f"SELECT chunk_id, text, metadata FROM chunks WHERE chunk_id IN "
                    f"({', '.join('?' * len(batch))})",
                    batch,
                )
                for cid, text, meta in rows:
                    found[cid] = (text, json.loads(meta))
        return found

    def search(
        self,
        query: str,
        n: int,
        filters: Filters | None = None,
        readable_by: Iterable[str] | None = None,
    ) -> list[tuple[str, float]]:
        """BM25 search.

        Args:
            query: free text; terms are OR-ed, so any matching term counts.
            n: how many results at most.
            filters: optional metadata filters.
            readable_by: only chunks readable by any of these groups (`vectorstore.access`),
                applied in the SQL before ranking; ``None``: no access filter.

        Returns:
            ``(chunk_id, score)`` pairs, best first; score is BM25 (higher is better).
        """
        terms = query_terms(query)
        if not terms or n <= 0:
            return []
        match = " OR ".join(f'"{term}"' for term in terms)
        condition, params = filter_sql(filters)
        if readable_by is not None:
            access, access_params = access_sql(readable_by)
            condition, params = f"{condition} AND {access}", [*params, *access_params]
        sql = (
            "SELECT chunks.chunk_id, bm25(chunks_fts) AS rank FROM chunks_fts "
            "JOIN chunks ON chunks.rowid = chunks_fts.rowid "
            f"WHERE chunks_fts MATCH ? AND {condition} ORDER BY rank LIMIT ?"
        )
        with self._lock:
            rows = self._conn.execute(sql, [match, *params, n]).fetchall()
        return [(cid, -float(rank)) for cid, rank in rows]

    def set_access(self, chunk_ids: Sequence[str], groups: Iterable[str]) -> None:
        """Rewrite the stored access of these chunks (metadata only, one transaction)."""
        wanted = access_metadata(groups)
        current = self.get(list(chunk_ids))
        rows = []
        for cid, (_text, meta) in current.items():
            updated = {k: v for k, v in meta.items() if not is_group_key(k)}
            updated.update(wanted)
            rows.append((json.dumps(updated, sort_keys=True), cid))
        if not rows:
            return
        with self._transaction() as conn:
            conn.executemany("UPDATE chunks SET metadata = ? WHERE chunk_id = ?", rows)

    def access_by_source(self) -> dict[str, dict[str | None, int]]:
        """Per document (``source``): its stored access strings and how many chunks hold each
        (``None``: chunks that store no access)."""
        found: dict[str, dict[str | None, int]] = {}
        with self._lock:
            rows = self._conn.execute(
                "SELECT json_extract(metadata, '$.source'), json_extract(metadata, '$.access'), "
                "count(*) FROM chunks GROUP BY 1, 2"
            ).fetchall()
        for source, access, count in rows:
            found.setdefault(str(source), {})[access] = int(count)
        return found

    def term_coverage(self, query: str, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Share of the query's search terms that occur in each chunk (as FTS5 matches them).

        Args:
            query: free text, split as `search` splits it.
            chunk_ids: the chunks to look at.

        Returns:
            ``chunk_id -> share`` between 0 and 1 for the chunks in the index.
        """
        terms = query_terms(query)
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}
        placeholders = ", ".join("?" * len(ids))
        matched = dict.fromkeys(ids, 0)
        with self._lock:
            present = {
                row[0]
                for row in self._conn.execute(
                    f"SELECT chunk_id FROM chunks WHERE chunk_id IN ({placeholders})", ids
                )
            }
            for term in terms:
                rows = self._conn.execute(
                    "SELECT chunks.chunk_id FROM chunks_fts JOIN chunks "
                    "ON chunks.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ? "
                    f"AND chunks.chunk_id IN ({placeholders})",
                    [f'"{term}"', *ids],
                )
                for (cid,) in rows:
                    matched[cid] += 1
        return {cid: matched[cid] / len(terms) if terms else 0.0 for cid in ids if cid in present}

    def size_bytes(self) -> int:
        """Bytes on disk (database and write-ahead log)."""
        return self._db.size_bytes()

    def close(self) -> None:
        """Close the database."""
        self._db.close()
