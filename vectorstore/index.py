"""The knowledge index: Chroma (dense) and FTS5 (BM25) kept in step, searched together."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from vectorstore.chroma_store import ChromaStore
from vectorstore.embedder import Embedder, EmbedderError
from vectorstore.hybrid import convex_combination, reciprocal_rank_fusion
from vectorstore.keyword import KeywordIndex
from vectorstore.records import ChunkRecord, Filters, Metadata, SearchHit

SearchMode = Literal["hybrid", "dense", "keyword"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "keyword")
Fusion = Literal["convex", "rrf"]
FUSIONS: tuple[Fusion, ...] = ("convex", "rrf")


INFO_FILE = "index_info.json"


@dataclass(frozen=True)
class EmbedderInfo:
    """Which embedder made an index's vectors, as recorded beside the index.

    Attributes:
        name: the embedder's name; vectors of two names are never mixed.
        backend: what ran the model (``torch``, ``onnx-int8``, ...), when known.
    """

    name: str
    backend: str | None = None

    @classmethod
    def of(cls, embedder: Embedder) -> EmbedderInfo:
        """The record of an embedder (wrappers without a ``backend`` leave it unknown)."""
        return cls(embedder.name, getattr(embedder, "backend", None))

    def describe(self) -> str:
        """For people: the name, and the backend when the name does not say it."""
        if self.backend is None or self.backend in self.name:
            return self.name
        return f"{self.name} on {self.backend}"

    def change_to(self, other: EmbedderInfo) -> str:
        """What changed from this embedder to ``other``, in a few words."""
        if self.backend and other.backend and self.backend != other.backend:
            return f"embedding backend changed from {self.backend} to {other.backend}"
        return f"embedding model changed from {self.describe()} to {other.describe()}"


class IndexMismatchError(EmbedderError):
    """The index was built with another embedding model or backend than the configured one.

    Attributes:
        built_with: the embedder that made the index's vectors.
        configured: the embedder asked to search them.
    """

    def __init__(self, index_dir: Path, built_with: EmbedderInfo, configured: EmbedderInfo):
        self.built_with = built_with
        self.configured = configured
        if built_with.backend and configured.backend and built_with.backend != configured.backend:
            going_back = f"set KBCHAT_EMBEDDING_BACKEND={built_with.backend}"
        else:
            going_back = "configure the embedding model it was built with"
        super().__init__(
            f"The index in {index_dir} was built with the embedding model "
            f"{built_with.describe()}, but {configured.describe()} is configured: its vectors "
            "cannot be searched with another model or backend. Re-embed the index with "
            "`kbchat ingest --full` (or Full rebuild on the Admin page's Re-ingest tab), or "
            f"{going_back} to search it as it is."
        )


@dataclass(frozen=True)
class IndexStats:
    """Figures about the index."""

    chunks: int
    keyword_chunks: int
    embedder: str
    location: str
    size_bytes: int | None


class KnowledgeIndex:
    """Chunks with vectors in Chroma and BM25 terms in SQLite FTS5, under the same ids.

    Writes go to Chroma first, then to the keyword index; the ingestion job's journal makes a
    write interrupted between the two converge on the next run.

    Args:
        index_dir: folder of the keyword index (and of embedded Chroma).
        embedder: the embedding model.
        collection: Chroma collection name.
        chroma_host: Chroma server host; ``None`` for embedded Chroma under ``index_dir``.
        chroma_port: Chroma server port.
        candidates: how many results each retriever contributes before fusion.
        rrf_k: reciprocal rank fusion constant (with ``fusion="rrf"``).
        fusion: how hybrid search fuses dense and keyword results: ``convex`` (a weighted
            sum of min-max normalised scores, see `convex_combination`) or ``rrf``.
        dense_weight: weight of the dense side in the convex combination (keyword: the rest).
    """

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        *,
        collection: str = "kbchat",
        chroma_host: str | None = None,
        chroma_port: int = 8000,
        candidates: int = 30,
        rrf_k: int = 60,
        fusion: Fusion = "rrf",
        dense_weight: float = 0.5,
    ) -> None:
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; use one of {FUSIONS}")
        if not 0.0 <= dense_weight <= 1.0:
            raise ValueError(f"dense_weight must be between 0 and 1, not {dense_weight}")
        self.index_dir = index_dir
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.fusion = fusion
        self.dense_weight = dense_weight
        index_dir.mkdir(parents=True, exist_ok=True)
        self.chroma = ChromaStore(
            collection,
            persist_dir=None if chroma_host else index_dir / "chroma",
            host=chroma_host,
            port=chroma_port,
        )
        self.keyword = KeywordIndex(index_dir / "keyword.sqlite3")
        self._info_path = index_dir / INFO_FILE
        self._write_lock = threading.Lock()
        self._marker = index_dir / "generation"
        self._seen_generation = self._generation()

    # -- freshness across processes -----------------------------------------------------------

    def _generation(self) -> int:
        try:
            return int(self._marker.read_text(encoding="utf-8") or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _bump_generation(self) -> None:
        """Tell readers in other processes that the index changed."""
        generation = max(time.time_ns(), self._seen_generation + 1)
        tmp = self._marker.with_suffix(".tmp")
        tmp.write_text(str(generation), encoding="utf-8")
        tmp.replace(self._marker)
        self._seen_generation = generation

    def refresh(self) -> None:
        """See writes made by another process (an ingestion run) since the last look."""
        current = self._generation()
        if current != self._seen_generation:
            self._seen_generation = current
            self.chroma.reopen()

    # -- writing -----------------------------------------------------------------------------

    @property
    def embedder_info(self) -> EmbedderInfo:
        """The configured embedder, as the index records it."""
        return EmbedderInfo.of(self.embedder)

    def built_with(self) -> EmbedderInfo | None:
        """The embedder that made the vectors in the index; ``None`` before the first write.

        An index recorded before embedders had backends was built with sentence-transformers
        (torch), the only backend then.
        """
        try:
            stored = json.loads(self._info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(stored, dict) or not isinstance(stored.get("embedder"), str):
            return None
        return EmbedderInfo(stored["embedder"], stored.get("backend", "torch"))

    def record_embedder(self) -> None:
        """Record the configured embedder as the one whose vectors the index holds.

        The ingestion job calls this under its lock before it writes any vector: after a
        change of embedder, only once the index was emptied (see `ingest.sync`).
        """
        info = self.embedder_info
        tmp = self._info_path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"embedder": info.name, "backend": info.backend}), encoding="utf-8"
        )
        tmp.replace(self._info_path)

    def check_embedder(self) -> None:
        """Refuse to search vectors made by another embedder with the configured one.

        Raises:
            IndexMismatchError: the index holds vectors of another embedder (model or backend).
        """
        built = self.built_with()
        if built is None or built.name == self.embedder.name:
            return
        if self.count() > 0:
            raise IndexMismatchError(self.index_dir, built, self.embedder_info)

    def write(self, records: Sequence[ChunkRecord], embeddings: np.ndarray) -> None:
        """Insert or replace chunks in both indexes."""
        with self._write_lock:
            self.chroma.upsert(records, embeddings)
            self.keyword.upsert(records)
            self._bump_generation()

    def delete(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks from both indexes."""
        ids = list(chunk_ids)
        if not ids:
            return
        with self._write_lock:
            self.chroma.delete(ids)
            self.keyword.delete(ids)
            self._bump_generation()

    def set_access(self, chunk_ids: Sequence[str], groups: Iterable[str]) -> None:
        """Rewrite which groups may read these chunks, in both indexes (no re-embedding).

        Chroma first, then the keyword index, as `write` does; a search in between may see
        the old access on one side, which the caller's check of the access in force covers.
        """
        ids = list(chunk_ids)
        if not ids:
            return
        wanted = frozenset(groups)
        with self._write_lock:
            self.chroma.set_access(ids, wanted)
            self.keyword.set_access(ids, wanted)
            self._bump_generation()

    def stored_access(self) -> dict[str, dict[str | None, int]]:
        """Per document: its chunks' stored access strings and counts (`vectorstore.access`)."""
        return self.keyword.access_by_source()

    def reset(self) -> None:
        """Remove everything (a full rebuild starts here)."""
        with self._write_lock:
            self.chroma.reset()
            self.keyword.clear()
            self._info_path.unlink(missing_ok=True)
            self._bump_generation()

    def stored_embeddings(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors already in the index, to reuse for unchanged text."""
        return self.chroma.embeddings(chunk_ids)

    # -- reading -----------------------------------------------------------------------------

    def count(self) -> int:
        """Number of chunks in the dense index."""
        self.refresh()
        return self.chroma.count()

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        filters: Filters | None = None,
        mode: SearchMode = "hybrid",
        readable_by: Sequence[str] | None = None,
    ) -> list[SearchHit]:
        """Find the passages that best match a query.

        Args:
            query: the question or keywords.
            k: how many passages to return.
            filters: metadata filters (key -> value or list of values).
            mode: ``hybrid`` (dense and BM25 fused, see ``fusion``), ``dense`` or ``keyword``.
            readable_by: only passages readable by any of these groups
                (`vectorstore.access`); each retriever applies it to its own candidates before
                fusion, so the best ``k`` readable passages come back. ``None``: no filter.

        Returns:
            Up to ``k`` hits, best first.

        Raises:
            IndexMismatchError: a dense or hybrid search of an index built by another embedder.
        """
        if mode not in SEARCH_MODES:
            raise ValueError(f"unknown search mode {mode!r}; use one of {SEARCH_MODES}")
        query = query.strip()
        if not query or k <= 0:
            return []
        self.refresh()
        if mode != "keyword":  # keyword search reads no vectors
            self.check_embedder()
        pool = max(self.candidates, k)
        dense: list[tuple[str, float]] = []
        keyword: list[tuple[str, float]] = []
        query_vector: np.ndarray | None = None
        if mode in ("hybrid", "dense"):
            query_vector = self.embedder.embed_query(query)
            dense = self.chroma.query(query_vector, pool, filters, readable_by)
        if mode in ("hybrid", "keyword"):
            keyword = self.keyword.search(query, pool, filters, readable_by)
        if mode == "dense":
            ranked = [(cid, score, [rank, None]) for rank, (cid, score) in enumerate(dense, 1)]
        elif mode == "keyword":
            ranked = [(cid, score, [None, rank]) for rank, (cid, score) in enumerate(keyword, 1)]
        elif self.fusion == "convex":
            ranked = convex_combination(dense, keyword, dense_weight=self.dense_weight)
        else:
            ranked = reciprocal_rank_fusion(
                [[cid for cid, _ in dense], [cid for cid, _ in keyword]], k=self.rrf_k
            )
        similarity = dict(dense)
        bm25 = dict(keyword)
        top = ranked[:k]
        if query_vector is not None:  # keyword-only hits get their cosine too (the gate reads it)
            similarity.update(
                self._cosines(query_vector, [cid for cid, _, _ in top if cid not in similarity])
            )
        coverage = (
            self.keyword.term_coverage(query, [cid for cid, _, _ in top]) if mode != "dense" else {}
        )
        payload = self._payload([cid for cid, _, _ in top])
        hits = []
        for cid, score, (dense_rank, keyword_rank) in top:
            if cid not in payload:  # removed between the two reads: skip, never fail
                continue
            text, metadata = payload[cid]
            hits.append(
                SearchHit(
                    cid,
                    text,
                    metadata,
                    float(score),
                    dense_rank,
                    keyword_rank,
                    similarity.get(cid),
                    bm25.get(cid),
                    coverage.get(cid),
                )
            )
        return hits

    def _cosines(self, query_vector: np.ndarray, chunk_ids: list[str]) -> dict[str, float]:
        """Cosine similarity of the query to chunks dense search did not return."""
        if not chunk_ids:
            return {}
        query = np.asarray(query_vector, dtype=np.float32)
        query_norm = float(np.linalg.norm(query)) or 1.0
        found = {}
        for cid, vector in self.chroma.embeddings(chunk_ids).items():
            norm = float(np.linalg.norm(vector)) or 1.0
            found[cid] = float(np.dot(query, vector) / (query_norm * norm))
        return found

    def _payload(self, chunk_ids: list[str]) -> dict[str, tuple[str, Metadata]]:
        found = self.keyword.get(chunk_ids)
        missing = [cid for cid in chunk_ids if cid not in found]
        if missing:
            found.update(self.chroma.get(missing))
        return found

    def stats(self) -> IndexStats:
        """Figures about the index."""
        chroma_size = self.chroma.size_bytes()
        size = None if chroma_size is None else chroma_size + self.keyword.size_bytes()
        chunks = self.count()
        embedder = self.embedder_info.describe()
        built = self.built_with()
        if chunks and built is not None and built.name != self.embedder.name:
            embedder += f" (the index was built with {built.describe()}: run `kbchat ingest`)"
        return IndexStats(
            chunks=chunks,
            keyword_chunks=self.keyword.count(),
            embedder=embedder,
            location=self.chroma.location,
            size_bytes=size,
        )
