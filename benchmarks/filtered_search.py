"""Hybrid search with a document access filter, at 100k chunks: latency and recall.

A real embedded Chroma and FTS5 keyword index (`vectorstore.KnowledgeIndex`) in a cache
folder hold ``--chunks`` synthetic chunks (sentences drawn from a Zipf-distributed vocabulary,
random unit vectors). Every chunk is readable by ``all``; every 10th also by ``g10``, every
100th also by ``g1``, so the filters ``readable_by=["g1"]``, ``["g10"]`` and ``["all"]`` match
1%, 10% and 100% of the chunks. Each query is a chunk's vector plus noise, with a few of its
words as the text; the embedder returns the query's vector.

Prints p50/p95 of hybrid search (top 5, both retrievers, fusion) unfiltered and with each
filter, and recall@5 of the narrow (1%) reader against brute force over the chunks that reader
may read: exact cosine over all readable vectors, and BM25 over every matching chunk
(unfiltered FTS5, then only the readable ones kept), fused by the same reciprocal rank fusion
with the same candidate pool. The index is built once per ``--chunks`` and ``--dim`` and kept
in ``--cache`` (build time printed).

Usage: python benchmarks/filtered_search.py [--chunks 100000] [--queries 50] [--cache DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vectorstore.access import access_metadata
from vectorstore.hybrid import reciprocal_rank_fusion
from vectorstore.index import KnowledgeIndex
from vectorstore.records import ChunkRecord

FILTERS: dict[str, list[str] | None] = {
    "unfiltered": None,
    "100% (all)": ["all"],
    "10% (g10)": ["g10"],
    "1% (g1)": ["g1"],
}
K = 5


class LookupEmbedder:
    """Returns the vector registered for a query text (the benchmark's queries)."""

    def __init__(self, dim: int) -> None:
        self.name = f"synthetic-{dim}"
        self.dim = dim
        self.queries: dict[str, np.ndarray] = {}

    def dimension(self) -> int:
        return self.dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.queries[t] for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self.queries[text]


def _groups(i: int) -> list[str]:
    return ["all"] + (["g10"] if i % 10 == 0 else []) + (["g1"] if i % 100 == 0 else [])


def _vocabulary(rng: np.random.Generator, size: int = 8000) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, size=int(rng.integers(4, 10)))) for _ in range(size)]


def _texts(rng: np.random.Generator, vocab: list[str], n: int) -> list[str]:
    ranks = np.arange(1, len(vocab) + 1)
    weights = 1.0 / ranks
    weights /= weights.sum()
    words = rng.choice(len(vocab), size=(n, 40), p=weights)
    return [" ".join(vocab[w] for w in row) for row in words]


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def build(folder: Path, chunks: int, dim: int) -> tuple[KnowledgeIndex, list[str], np.ndarray]:
    """The index in ``folder`` (built on the first run), its texts and vectors."""
    rng = np.random.default_rng(7)
    texts = _texts(rng, _vocabulary(rng), chunks)
    vectors = _unit(rng.standard_normal((chunks, dim)))
    embedder = LookupEmbedder(dim)
    index = KnowledgeIndex(folder, embedder, collection="filtered")
    if index.count() != chunks:
        started = time.perf_counter()
        index.reset()
        batch = 5000
        for start in range(0, chunks, batch):
            records = [
                ChunkRecord(
                    f"c{i}",
                    texts[i],
                    texts[i],
                    {"source": f"doc{i // 10}.md", **access_metadata(_groups(i))},
                )
                for i in range(start, min(chunks, start + batch))
            ]
            index.write(records, vectors[start : start + len(records)])
            print(f"  built {start + len(records)}/{chunks}", file=sys.stderr, flush=True)
        index.record_embedder()
        print(f"index built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return index, texts, vectors


def brute_force(
    index: KnowledgeIndex,
    query: str,
    vector: np.ndarray,
    vectors: np.ndarray,
    readable: np.ndarray,
) -> list[str]:
    """The top K by the index's own scoring, computed exactly over the readable chunks."""
    pool = max(index.candidates, K)
    ids = np.flatnonzero(readable)
    cosines = vectors[ids] @ vector
    dense = [f"c{ids[j]}" for j in np.argsort(-cosines)[:pool]]
    allowed = {f"c{i}" for i in ids}
    every = index.keyword.search(query, len(vectors))  # every match, best first
    keyword = [cid for cid, _score in every if cid in allowed][:pool]
    fused = reciprocal_rank_fusion([dense, keyword], k=index.rrf_k)
    return [cid for cid, _score, _ranks in fused[:K]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    folder = args.cache / f"kbchat-filtered-{args.chunks}-{args.dim}"
    index, texts, vectors = build(folder, args.chunks, args.dim)
    embedder = index.embedder
    assert isinstance(embedder, LookupEmbedder)
    rng = np.random.default_rng(11)
    narrow = np.array([i % 100 == 0 for i in range(args.chunks)])
    queries: list[tuple[str, np.ndarray]] = []
    for q in range(args.queries):
        source = int(rng.integers(0, args.chunks))
        words = texts[source].split()
        text = " ".join(words[j] for j in rng.choice(len(words), size=4, replace=False))
        text = f"{text} q{q}"  # unique, so each query has its own vector
        vector = _unit((vectors[source] + 0.8 * _unit(rng.standard_normal((1, args.dim)))[0])[None])
        embedder.queries[text] = vector[0]
        queries.append((text, vector[0]))
    index.search(queries[0][0], K)  # warm up
    print(f"\n{args.chunks} chunks, {args.dim}-d, {args.queries} queries, hybrid top {K}")
    print(f"{'filter':<14}{'matches':>10}{'p50 ms':>10}{'p95 ms':>10}")
    for name, groups in FILTERS.items():
        times = []
        for text, _vector in queries:
            started = time.perf_counter()
            index.search(text, K, readable_by=groups)
            times.append((time.perf_counter() - started) * 1000)
        share = 1.0 if groups is None or groups == ["all"] else (0.1 if groups == ["g10"] else 0.01)
        p95 = statistics.quantiles(times, n=20)[18] if len(times) >= 20 else max(times)
        print(
            f"{name:<14}{int(share * args.chunks):>10}{statistics.median(times):>10.1f}{p95:>10.1f}"
        )
    found = 0
    for text, vector in queries:
        got = [h.chunk_id for h in index.search(text, K, readable_by=["g1"])]
        assert all(int(cid[1:]) % 100 == 0 for cid in got), "a passage the reader may not read"
        exact = brute_force(index, text, vector, vectors, narrow)
        found += len(set(got) & set(exact))
    print(f"\nrecall@{K} of the 1% reader against brute force: {found / (K * len(queries)):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
