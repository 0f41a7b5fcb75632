"""The dense side of the index: one Chroma collection, embedded on disk or on a Chroma server.

Vectors are always computed by our embedder and handed to Chroma, so Chroma's own default
embedding function (which downloads a model at run time) is never used.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from vectorstore.access import access_update, chroma_access_where, merge_where, readable
from vectorstore.records import ChunkRecord, Filters, Metadata

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

_BATCH = 1000

# Embedded Chroma shares one "system" per folder in a process, and a process does not see
# vectors another process wrote until that system is rebuilt. All embedded stores of this
# process serialise on one lock, and rebuild their connection when the epoch moves on.
_EMBEDDED_LOCK = threading.RLock()
_epoch = 0


def _clear_embedded_systems() -> None:
    global _epoch
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    _epoch += 1


class ChromaStoreError(Exception):
    """Chroma cannot be reached or refuses an operation."""


def chroma_where(filters: Filters | None) -> dict[str, Any] | None:
    """Translate metadata filters to a Chroma ``where`` clause."""
    if not filters:
        return None
    clauses: list[dict[str, Any]] = []
    for key, wanted in filters.items():
        if isinstance(wanted, (list, tuple, set, frozenset)):
            clauses.append({key: {"$in": list(wanted)}})
        else:
            clauses.append({key: wanted})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class ChromaStore:
    """A Chroma collection of chunk vectors, texts and metadata, in cosine space.

    Args:
        collection: collection name (3+ characters).
        persist_dir: folder for embedded Chroma (``PersistentClient``); used when ``host`` is None.
        host: Chroma server host (``HttpClient``); ``None`` for embedded.
        port: Chroma server port.
    """

    def __init__(
        self,
        collection: str,
        *,
        persist_dir: Path | None = None,
        host: str | None = None,
        port: int = 8000,
    ) -> None:
        if len(collection) < 3:
            raise ChromaStoreError(f"Collection name {collection!r} is too short (3+ characters).")
        if host is None and persist_dir is None:
            raise ChromaStoreError("Either a persist folder or a Chroma server host is needed.")
        self.collection_name = collection
        self.persist_dir = persist_dir
        self.host = host
        self.port = port
        self._lock = _EMBEDDED_LOCK if host is None else threading.RLock()
        self._client: ClientAPI | None = None
        self._collection: Collection | None = None
        self._epoch = _epoch

    @property
    def location(self) -> str:
        """Where the data lives, for people to read."""
        if self.host:
            return f"chroma server http://{self.host}:{self.port}"
        return f"embedded chroma in {self.persist_dir}"

    def _connect(self) -> Collection:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self.host:
                self._client = chromadb.HttpClient(
                    host=self.host, port=self.port, settings=chroma_settings
                )
            else:
                assert self.persist_dir is not None
                self.persist_dir.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(
                    path=str(self.persist_dir), settings=chroma_settings
                )
            return self._client.get_or_create_collection(
                self.collection_name,
                metadata={"hnsw:space": "cosine"},
                embedding_function=None,
            )
        except Exception as err:
            raise ChromaStoreError(
                f"Cannot open the Chroma index ({self.location}): {err}"
            ) from err

    @property
    def collection(self) -> Collection:
        """The Chroma collection (connected on first use)."""
        with self._lock:
            if self._collection is None or (self.host is None and self._epoch != _epoch):
                self._epoch = _epoch
                self._collection = self._connect()
            return self._collection

    def upsert(self, records: Sequence[ChunkRecord], embeddings: np.ndarray) -> None:
        """Write chunks with their vectors (insert or replace by id)."""
        if len(records) != len(embeddings):
            raise ValueError("one embedding per record is needed")
        for start in range(0, len(records), _BATCH):
            batch = records[start : start + _BATCH]
            with self._lock:
                self.collection.upsert(
                    ids=[r.chunk_id for r in batch],
                    embeddings=embeddings[start : start + _BATCH],
                    documents=[r.text for r in batch],
                    metadatas=[dict(r.metadata) for r in batch],
                )

    def delete(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks by id (unknown ids are ignored)."""
        ids = list(chunk_ids)
        for start in range(0, len(ids), _BATCH):
            with self._lock:
                self.collection.delete(ids=ids[start : start + _BATCH])

    def embeddings(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of the given chunks (missing ids are absent)."""
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(chunk_ids), _BATCH):
            with self._lock:
                got = self.collection.get(
                    ids=list(chunk_ids[start : start + _BATCH]), include=["embeddings"]
                )
            vectors = got.get("embeddings")
            if vectors is None:
                continue
            for cid, vector in zip(got["ids"], vectors, strict=True):
                found[cid] = np.asarray(vector, dtype=np.float32)
        return found

    def get(self, chunk_ids: Sequence[str]) -> dict[str, tuple[str, Metadata]]:
        """Text and metadata of the given chunks."""
        found: dict[str, tuple[str, Metadata]] = {}
        for start in range(0, len(chunk_ids), _BATCH):
            with self._lock:
                got = self.collection.get(
                    ids=list(chunk_ids[start : start + _BATCH]),
                    include=["documents", "metadatas"],
                )
            docs = got.get("documents") or []
            metas = got.get("metadatas") or []
            for cid, doc, meta in zip(got["ids"], docs, metas, strict=True):
                found[cid] = (doc or "", cast(Metadata, dict(meta or {})))
        return found

    def set_access(self, chunk_ids: Sequence[str], groups: Iterable[str]) -> None:
        """Rewrite the stored access of these chunks (metadata only, vectors untouched)."""
        wanted = frozenset(groups)
        ids = list(chunk_ids)
        for start in range(0, len(ids), _BATCH):
            with self._lock:
                got = self.collection.get(ids=ids[start : start + _BATCH], include=["metadatas"])
                metas = got.get("metadatas") or []
                if not got["ids"]:
                    continue
                self.collection.update(
                    ids=list(got["ids"]),
                    metadatas=[access_update(cast(Metadata, dict(m or {})), wanted) for m in metas],
                )

    def ids(self) -> set[str]:
        """Every chunk id in the collection."""
        result: set[str] = set()
        offset = 0
        while True:
            with self._lock:
                got = self.collection.get(include=[], limit=10_000, offset=offset)
            result.update(got["ids"])
            if len(got["ids"]) < 10_000:
                return result
            offset += 10_000

    def count(self) -> int:
        """Number of chunks."""
        with self._lock:
            return int(self.collection.count())

    def query(
        self,
        embedding: np.ndarray,
        n: int,
        filters: Filters | None = None,
        readable_by: Iterable[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Nearest chunks to a query vector.

        Args:
            embedding: the query vector.
            n: how many at most.
            filters: metadata filters.
            readable_by: only chunks readable by any of these groups (`vectorstore.access`);
                ``None``: no access filter. Chroma applies it while it searches.

        Returns:
            ``(chunk_id, similarity)`` pairs, best first (cosine similarity, 1 is identical).
        """
        with self._lock:
            total = self.collection.count()
            if total == 0 or n <= 0:
                return []
            where = chroma_where(filters)
            if readable_by is not None:
                groups = frozenset(readable_by)
                # A broad filter makes Chroma list every matching id first (slow at 100k). When
                # the unfiltered best n are all readable they ARE the filtered best n (filtering
                # keeps the order), so that answer is exact; otherwise Chroma filters.
                got = self.collection.query(
                    query_embeddings=[embedding],
                    n_results=min(n, total),
                    where=where,
                    include=["distances", "metadatas"],
                )
                metas = (got.get("metadatas") or [[]])[0]
                if not all(readable(cast(Metadata, m or {}), groups) for m in metas):
                    got = self.collection.query(
                        query_embeddings=[embedding],
                        n_results=min(n, total),
                        where=merge_where(where, chroma_access_where(groups)),
                        include=["distances"],
                    )
            else:
                got = self.collection.query(
                    query_embeddings=[embedding],
                    n_results=min(n, total),
                    where=where,
                    include=["distances"],
                )
        ids = got["ids"][0]
        distances = (got.get("distances") or [[]])[0]
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)]

    def reset(self) -> None:
        """Drop and recreate the collection (used by a full rebuild)."""
        with self._lock:
            _ = self.collection
            assert self._client is not None
            self._client.delete_collection(self.collection_name)
            self._collection = None

    def reopen(self) -> None:
        """Read the collection afresh, seeing what other processes wrote meanwhile."""
        with self._lock:
            if self.host is None:
                _clear_embedded_systems()
            self._collection = None
            self._client = None

    def size_bytes(self) -> int | None:
        """Bytes on disk for embedded Chroma; ``None`` for a server."""
        if self.host or self.persist_dir is None or not self.persist_dir.exists():
            return None
        return sum(p.stat().st_size for p in self.persist_dir.rglob("*") if p.is_file())
