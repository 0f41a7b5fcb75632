"""One SQLite file shared by threads of a process and read by other processes while one writes.

Every store of kbchat that keeps state in SQLite (keyword index, manifest, ledger, audit log)
opens its file through `SqliteDatabase`: WAL journaling, a busy timeout, one connection
serialised by a lock, and a write transaction helper that rolls back on any error.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class SqliteDatabase:
    """A SQLite file with its schema applied.

    Args:
        path: the database file (its folder is created).
        schema: SQL run once at opening (``CREATE ... IF NOT EXISTS``).
        rows_as_dicts: return rows as `sqlite3.Row` (by column name) instead of tuples.
    """

    def __init__(self, path: Path, schema: str, *, rows_as_dicts: bool = False) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        if rows_as_dicts:
            self.conn.row_factory = sqlite3.Row
        self.lock = threading.RLock()
        with self.lock:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(schema)
            self.conn.commit()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed at the end of the block, rolled back on any error."""
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All rows of a query."""
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def add_missing_columns(self, table: str, columns: dict[str, str]) -> None:
        """Add columns a newer release introduced to a table of an older file."""
        with self.lock:
            have = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            self.conn.commit()

    def size_bytes(self) -> int:
        """Bytes on disk (database and write-ahead log)."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            candidate = Path(f"{self.path}{suffix}")
            if candidate.exists():
                total += candidate.stat().st_size
        return total

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.conn.close()
