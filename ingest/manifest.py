"""The manifest of what is indexed, and the journal that makes interrupted runs converge.

The manifest row of a file is written only after the file's chunks are in the index. Before a
file's chunks are written, its new chunk ids are put in the journal; a journal entry left by a
killed run tells the next run which chunks may be half-written, so it can remove them and
process the file again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vectorstore.sqlite_db import SqliteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY,
    file_hash TEXT NOT NULL,
    settings_key TEXT NOT NULL,
    size INTEGER NOT NULL,
    format TEXT NOT NULL,
    title TEXT NOT NULL,
    sensitivity TEXT NOT NULL,
    chunk_ids TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    source TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS no_text (
    source TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    source TEXT PRIMARY KEY,
    new_ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    finished_at TEXT NOT NULL,
    report TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class FileEntry:
    """One indexed file."""

    source: str
    file_hash: str
    settings_key: str
    size: int
    format: str
    title: str
    sensitivity: str
    chunk_ids: tuple[str, ...]
    ingested_at: str


class Manifest:
    """What is indexed, per file, in a SQLite database (WAL, readable during ingestion)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = SqliteDatabase(path, _SCHEMA)
        self._lock = self._db.lock
        self._conn = self._db.conn
        self._transaction = self._db.transaction

    # -- files -------------------------------------------------------------------------------

    def entries(self) -> dict[str, FileEntry]:
        """Every indexed file by source path."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT source, file_hash, settings_key, size, format, title, sensitivity, "
                "chunk_ids, ingested_at FROM files ORDER BY source"
            ).fetchall()
        return {
            row[0]: FileEntry(
                source=row[0],
                file_hash=row[1],
                settings_key=row[2],
                size=row[3],
                format=row[4],
                title=row[5],
                sensitivity=row[6],
                chunk_ids=tuple(json.loads(row[7])),
                ingested_at=row[8],
            )
            for row in rows
        }

    def commit_file(self, entry: FileEntry) -> None:
        """Record a file as indexed, clearing its journal entry and last failure or skip."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.source,
                    entry.file_hash,
                    entry.settings_key,
                    entry.size,
                    entry.format,
                    entry.title,
                    entry.sensitivity,
                    json.dumps(list(entry.chunk_ids)),
                    entry.ingested_at,
                ),
            )
            conn.execute("DELETE FROM journal WHERE source = ?", (entry.source,))
            conn.execute("DELETE FROM failures WHERE source = ?", (entry.source,))
            conn.execute("DELETE FROM no_text WHERE source = ?", (entry.source,))

    def remove_file(self, source: str) -> None:
        """Forget a file (after its chunks left the index)."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM files WHERE source = ?", (source,))
            conn.execute("DELETE FROM journal WHERE source = ?", (source,))
            conn.execute("DELETE FROM failures WHERE source = ?", (source,))
            conn.execute("DELETE FROM no_text WHERE source = ?", (source,))

    def invalidate(self, source: str) -> None:
        """Make the next run process a file again, whatever its hash."""
        with self._transaction() as conn:
            conn.execute("UPDATE files SET file_hash = '' WHERE source = ?", (source,))

    def clear(self) -> None:
        """Forget everything (a full rebuild)."""
        with self._transaction() as conn:
            for table in ("files", "failures", "no_text", "journal"):
                conn.execute(f"DELETE FROM {table}")

    # -- failures ----------------------------------------------------------------------------

    def record_failure(self, source: str, reason: str, at: str) -> None:
        """Remember why the last attempt at a file failed (what is indexed for it stays)."""
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?)", (source, reason, at))
            conn.execute("DELETE FROM no_text WHERE source = ?", (source,))

    def failures(self) -> dict[str, tuple[str, str]]:
        """Files whose last attempt failed: source -> (reason, time)."""
        with self._lock:
            rows = self._conn.execute("SELECT source, reason, at FROM failures").fetchall()
        return {source: (reason, at) for source, reason, at in rows}

    def forget_failures(self, keep: set[str]) -> None:
        """Drop failure and no-text records of files that are no longer in the corpus."""
        with self._transaction() as conn:
            for table in ("failures", "no_text"):
                for (source,) in conn.execute(f"SELECT source FROM {table}").fetchall():
                    if source not in keep:
                        conn.execute(f"DELETE FROM {table} WHERE source = ?", (source,))

    # -- files with no text ------------------------------------------------------------------

    def record_no_text(self, source: str, reason: str, at: str) -> None:
        """Remember that a file has nothing to index, and forget it as an indexed file.

        Call it after the file's chunks left the index (as `remove_file`); its journal entry
        and last failure go too.
        """
        with self._transaction() as conn:
            for table in ("files", "journal", "failures"):
                conn.execute(f"DELETE FROM {table} WHERE source = ?", (source,))
            conn.execute("INSERT OR REPLACE INTO no_text VALUES (?, ?, ?)", (source, reason, at))

    def no_text(self) -> dict[str, tuple[str, str]]:
        """Files that had nothing to index at their last attempt: source -> (reason, time)."""
        with self._lock:
            rows = self._conn.execute("SELECT source, reason, at FROM no_text").fetchall()
        return {source: (reason, at) for source, reason, at in rows}

    # -- journal -----------------------------------------------------------------------------

    def journal_begin(self, source: str, new_ids: list[str]) -> None:
        """Note that a file's chunks are about to be written under these ids."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO journal VALUES (?, ?)", (source, json.dumps(new_ids))
            )

    def journal(self) -> dict[str, list[str]]:
        """Journal entries left by an interrupted run: source -> ids being written."""
        with self._lock:
            rows = self._conn.execute("SELECT source, new_ids FROM journal").fetchall()
        return {source: json.loads(ids) for source, ids in rows}

    def journal_end(self, source: str) -> None:
        """Drop a journal entry."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM journal WHERE source = ?", (source,))

    # -- runs --------------------------------------------------------------------------------

    def record_run(self, finished_at: str, report: dict[str, object]) -> None:
        """Keep the report of a finished run."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO runs(finished_at, report) VALUES (?, ?)",
                (finished_at, json.dumps(report)),
            )

    def last_run(self) -> tuple[str, dict[str, object]] | None:
        """Time and report of the last finished run."""
        with self._lock:
            row = self._conn.execute(
                "SELECT finished_at, report FROM runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def close(self) -> None:
        """Close the database."""
        self._db.close()
