"""Which BM25 library for the keyword side: SQLite FTS5 or bm25s? Measured, not guessed.

For each: recall@5 and MRR on the sample corpus's evaluation set (keyword search alone),
build time and query latency p50/p95 at 100k synthetic chunks, and the cost of adding 100
chunks to that index (bm25s has no incremental update: it re-indexes everything).

Usage: python benchmarks/bm25_choice.py [--size 100000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import report  # noqa: E402
from benchmarks.ingest_and_search import QUERIES, corpus_chunks, pct  # noqa: E402
from ingest.chunking import ChunkingOptions  # noqa: E402
from kbchat.evaluation import load_eval_set, score_retrieval  # noqa: E402
from vectorstore.keyword import KeywordIndex, query_terms  # noqa: E402
from vectorstore.records import ChunkRecord  # noqa: E402

EVAL = ROOT / "eval" / "docs_corpus_questions.jsonl"


class Bm25sIndex:
    """bm25s over the same texts, with the same query terms."""

    def __init__(self) -> None:
        self.records: list[ChunkRecord] = []
        self.model = None

    def build(self, records: list[ChunkRecord]) -> None:
        import bm25s

        self.records = list(records)
        tokens = bm25s.tokenize(
            [r.embed_text for r in self.records], stopwords="en", show_progress=False
        )
        self.model = bm25s.BM25()
        self.model.index(tokens, show_progress=False)

    def add(self, records: list[ChunkRecord]) -> None:
        self.build(self.records + records)

    def search(self, query: str, n: int) -> list[str]:
        import bm25s

        assert self.model is not None
        terms = " ".join(query_terms(query))
        if not terms:
            return []
        tokens = bm25s.tokenize([terms], stopwords="en", show_progress=False)
        n = min(n, len(self.records))
        docs, _scores = self.model.retrieve(tokens, k=n, show_progress=False)
        return [self.records[i].chunk_id for i in docs[0]]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def synthetic(size: int, vocab: list[str], prefix: str = "s") -> list[ChunkRecord]:
    rng = random.Random(size)
    out = []
    for i in range(size):
        text = " ".join(rng.choices(vocab, k=90))
        out.append(ChunkRecord(f"{prefix}{i}", text, text, {"source": f"syn/{i}.md"}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args()
    records = corpus_chunks(ChunkingOptions(900, 120))
    by_id = {r.chunk_id: str(r.metadata["source"]) for r in records}
    questions = load_eval_set(EVAL)
    vocab = sorted({w.lower() for r in records for w in r.embed_text.split() if w.isalpha()})
    big = synthetic(args.size, vocab)
    extra = synthetic(100, vocab, prefix="x")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fts = KeywordIndex(Path(tmp) / "small.sqlite3")
        fts.upsert(records)
        fts_quality = score_retrieval(
            questions, lambda q: [by_id[c] for c, _ in fts.search(q, 5)], 5
        )
        big_fts = KeywordIndex(Path(tmp) / "big.sqlite3")
        fts_build = timed(lambda: big_fts.upsert(big))
        fts_lat = [timed(lambda q=q: big_fts.search(q, 30)) * 1000 for q in QUERIES * 5]
        fts_add = timed(lambda: big_fts.upsert(extra))
    small = Bm25sIndex()
    small.build(records)
    bm_quality = score_retrieval(questions, lambda q: [by_id[c] for c in small.search(q, 5)], 5)
    large = Bm25sIndex()
    bm_build = timed(lambda: large.build(big))
    bm_lat = [timed(lambda q=q: large.search(q, 30)) * 1000 for q in QUERIES * 5]
    bm_add = timed(lambda: large.add(extra))
    for name, quality, build, lat, add in (
        ("sqlite fts5", fts_quality, fts_build, fts_lat, fts_add),
        ("bm25s", bm_quality, bm_build, bm_lat, bm_add),
    ):
        rows.append(
            f"{name:<12} recall@5 {quality.recall_at_k:.3f}  MRR {quality.mrr:.3f}  "
            f"build@{args.size // 1000}k {build:6.1f} s  query p50 {pct(lat, 0.5):6.1f} ms "
            f"p95 {pct(lat, 0.95):6.1f} ms  add 100 {add * 1000:8.1f} ms"
        )
    print("\n".join(rows))
    report(
        "retrieval",
        "keyword search alone (SQLite FTS5, chosen): recall@5",
        f"{fts_quality.recall_at_k:.3f}",
        f"MRR {fts_quality.mrr:.3f}; bm25s recall@5 {bm_quality.recall_at_k:.3f}, "
        f"MRR {bm_quality.mrr:.3f}",
    )
    report(
        "search",
        f"keyword search (FTS5) @ {args.size // 1000}k chunks",
        f"p50 {pct(fts_lat, 0.5):.1f} ms, p95 {pct(fts_lat, 0.95):.1f} ms",
        f"add 100 chunks {fts_add * 1000:.1f} ms; bm25s p50 {pct(bm_lat, 0.5):.1f} ms, "
        f"add 100 {bm_add * 1000:,.0f} ms (full re-index)",
    )


if __name__ == "__main__":
    main()
