"""Retrieval variants on two sets: SQuAD dev (hard) and the sample corpus (saturated).

For every variant prints R@1, R@5 and MRR on ``../shared/eval/squad-dev`` (622 passages, 360
questions; each passage one Markdown document) and on ``eval/docs_corpus_questions.jsonl``
(64 answerable questions on ``docs_corpus/``), scored as ``kbchat eval`` scores them: the
rank of the first passage from a gold file among the top 5 passages.

Variants:

- chunking: chunk size and overlap, and what is put ahead of the text that is embedded and
  keyword-indexed (title and heading path, the title once, nothing);
- fusion: reciprocal rank fusion constant k, or a convex combination
  ``w * dense + (1 - w) * keyword`` of min-max normalised scores (Bruch et al. 2022);
- keyword weighting: FTS5 BM25 weights of the title and section columns against the body.

Each chunking variant is ingested once into a real index (Chroma and FTS5 in a temporary
folder) with the configured embedder; vectors are cached by text (in memory and in
``--cache``), so chunkings that share texts, and later runs, embed nothing twice. Fusion and
keyword variants reuse each chunking's dense and keyword result lists.

Then the relevance gate (issue 12 item 2) on the shipped retrieval: answerable questions whose
gold passage is in the top 5 but would be refused (false refusals), and off-topic questions
that would be answered, for the cosine-only gate and the two-signal gate.

The last rows are ``kbchat``'s own search with the default settings, as shipped.

Usage: python benchmarks/retrieval_variants.py [--quick] [--squad DIR] [--cache DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import report  # noqa: E402
from ingest.chunking import ChunkingOptions, chunk_document  # noqa: E402
from ingest.discover import discover  # noqa: E402
from ingest.loaders import LoadedDocument, LoadError, load_document  # noqa: E402
from kbchat.answering.relevance import RelevanceGate  # noqa: E402
from kbchat.data_layout import BENCH_CACHE_DIR  # noqa: E402
from kbchat.evaluation.dataset import EvalQuestion, load_eval_set  # noqa: E402
from kbchat.knowledge import embedder_for  # noqa: E402
from kbchat.settings import IngestSettings, RetrievalSettings, Settings  # noqa: E402
from vectorstore import KnowledgeIndex  # noqa: E402
from vectorstore.embedder import Embedder  # noqa: E402
from vectorstore.hybrid import convex_combination, reciprocal_rank_fusion  # noqa: E402
from vectorstore.keyword import query_terms  # noqa: E402
from vectorstore.records import ChunkRecord  # noqa: E402

DOCS_CORPUS = ROOT / "docs_corpus"
DOCS_EVAL = ROOT / "eval" / "docs_corpus_questions.jsonl"
OFF_TOPIC = ROOT / "eval" / "off_topic_questions.jsonl"
K = 5
POOL = 30


def default_squad_dir() -> Path:
    """``../shared/eval/squad-dev`` next to the checkout, or next to its parent (a worktree)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        candidate = base / "shared" / "eval" / "squad-dev"
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "eval" / "squad-dev"


# --- corpora and chunking -------------------------------------------------------------------


@dataclass(frozen=True)
class Chunking:
    """One way of cutting documents; ``header`` is what precedes the embedded/indexed text."""

    size: int
    overlap: int
    header: str = "title+path"  # title+path | title+path, title once | title | none

    @property
    def label(self) -> str:
        return f"{self.size}/{self.overlap}, {self.header}"


def embed_text_for(record: ChunkRecord, header: str) -> str:
    """The text embedded and indexed for a chunk under a header mode."""
    title = str(record.metadata.get("title", ""))
    path = [p for p in str(record.metadata.get("section", "")).split(" > ") if p]
    if header == "none":
        return record.text
    if header == "title":
        return f"{title}\n\n{record.text}"
    if header == "title+path, title once" and path and path[0].strip().lower() == title.lower():
        path = path[1:]
    head = "\n".join([title, " > ".join(path)] if path else [title])
    return f"{head}\n\n{record.text}"


@dataclass
class Corpus:
    """A folder of documents and its answerable questions."""

    name: str
    root: Path
    questions: list[EvalQuestion]
    documents: dict[str, LoadedDocument] = field(default_factory=dict)

    def load(self) -> None:
        found, _ = discover(self.root)
        for source, path in found.items():
            try:
                self.documents[source] = load_document(path, max_bytes=25 * 1024 * 1024)
            except LoadError:
                continue

    def chunk(self, chunking: Chunking) -> list[ChunkRecord]:
        options = ChunkingOptions(chunking.size, chunking.overlap)
        records: list[ChunkRecord] = []
        for source, document in self.documents.items():
            for record in chunk_document(
                document,
                source=source,
                sensitivity="internal",
                file_hash="0",
                ingested_at="",
                options=options,
            ):
                records.append(replace(record, embed_text=embed_text_for(record, chunking.header)))
        return records


# --- embeddings, cached by text -------------------------------------------------------------


class CachedEmbedder:
    """The configured embedder with its vectors kept by text hash (in memory and on disk)."""

    def __init__(self, inner: Embedder, folder: Path | None) -> None:
        self.inner = inner
        self.name = inner.name
        self.backend = getattr(inner, "backend", None)
        self.folder = folder
        self.vectors: dict[str, np.ndarray] = {}
        self.embedded = 0
        self.seconds = 0.0
        self._file = None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            tag = hashlib.sha256(f"{inner.name}\x00{getattr(inner, 'backend', '')}".encode())
            self._file = folder / f"vectors-{tag.hexdigest()[:16]}.npz"
            if self._file.exists():
                stored = np.load(self._file)
                self.vectors = {key: stored[key] for key in stored.files}

    @staticmethod
    def _key(kind: str, text: str) -> str:
        return hashlib.sha256(f"{kind}\x00{text}".encode()).hexdigest()[:24]

    def documents(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if self._key("d", t) not in self.vectors))
        if missing:
            started = time.perf_counter()
            for text, vector in zip(missing, self.inner.embed_documents(missing), strict=True):
                self.vectors[self._key("d", text)] = np.asarray(vector, dtype=np.float32)
            self.seconds += time.perf_counter() - started
            self.embedded += len(missing)
        return np.stack([self.vectors[self._key("d", t)] for t in texts])

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.query(text)

    def query(self, text: str) -> np.ndarray:
        key = self._key("q", text)
        if key not in self.vectors:
            self.vectors[key] = np.asarray(self.inner.embed_query(text), dtype=np.float32)
        return self.vectors[key]

    def save(self) -> None:
        if self._file is not None:
            tmp = self._file.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **self.vectors)
            tmp.replace(self._file)


# --- result lists, fusion, scoring ----------------------------------------------------------

Ranked = list[tuple[str, float]]
ColumnWeights = tuple[float, float, float]  # title, section, body


@dataclass
class Lists:
    """Dense and keyword results of every question of one corpus under one chunking."""

    source_of: dict[str, str]
    dense: list[Ranked]
    keyword: list[Ranked]
    by_columns: dict[ColumnWeights, list[Ranked]] = field(default_factory=dict)


def column_search(
    records: Sequence[ChunkRecord], queries: Sequence[str], weights: ColumnWeights
) -> list[Ranked]:
    """BM25 over title, section and body columns with FTS5 column weights (in memory)."""
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(cid UNINDEXED, title, section, body, "
        "tokenize='porter unicode61')"
    )
    db.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)",
        [
            (r.chunk_id, str(r.metadata["title"]), str(r.metadata["section"]), r.text)
            for r in records
        ],
    )
    out: list[Ranked] = []
    for query in queries:
        terms = query_terms(query)
        if not terms:
            out.append([])
            continue
        match = " OR ".join(f'"{t}"' for t in terms)
        rows = db.execute(
            "SELECT cid, bm25(t, 0, ?, ?, ?) AS r FROM t WHERE t MATCH ? ORDER BY r LIMIT ?",
            [*weights, match, POOL],
        ).fetchall()
        out.append([(cid, -float(rank)) for cid, rank in rows])
    db.close()
    return out


def build_lists(
    corpus: Corpus, records: list[ChunkRecord], embedder: CachedEmbedder, folder: Path
) -> Lists:
    """Ingest ``records`` into a real index and run every question through both retrievers."""
    index = KnowledgeIndex(folder, embedder)
    vectors = embedder.documents([r.embed_text for r in records])
    for start in range(0, len(records), 500):
        index.write(records[start : start + 500], vectors[start : start + 500])
    dense, keyword = [], []
    for question in corpus.questions:
        dense.append(index.chroma.query(embedder.query(question.question), POOL))
        keyword.append(index.keyword.search(question.question, POOL))
    index.keyword.close()
    return Lists({r.chunk_id: str(r.metadata["source"]) for r in records}, dense, keyword)


Fuse = Callable[[Ranked, Ranked], list[str]]


def rrf(k: int) -> Fuse:
    def fuse(dense: Ranked, keyword: Ranked) -> list[str]:
        fused = reciprocal_rank_fusion([[c for c, _ in dense], [c for c, _ in keyword]], k=k)
        return [cid for cid, _, _ in fused]

    return fuse


def convex(weight: float) -> Fuse:
    def fuse(dense: Ranked, keyword: Ranked) -> list[str]:
        return [cid for cid, _, _ in convex_combination(dense, keyword, dense_weight=weight)]

    return fuse


@dataclass(frozen=True)
class Score:
    """R@1, R@5 and MRR of one variant on one set, and each question's first gold rank."""

    r1: float
    r5: float
    mrr: float
    ranks: tuple[int | None, ...]

    def row(self) -> str:
        return f"{self.r1:.3f} | {self.r5:.3f} | {self.mrr:.3f}"


def score(questions: Sequence[EvalQuestion], rankings: Iterable[Sequence[str]]) -> Score:
    """R@1, R@5 and MRR over answerable questions with gold files (sources, best first)."""
    ranks: list[int | None] = []
    for question, sources in zip(questions, rankings, strict=True):
        gold = set(question.gold_files)
        top = list(sources)[:K]
        ranks.append(next((i for i, s in enumerate(top, 1) if s in gold), None))
    n = len(ranks) or 1
    return Score(
        sum(r == 1 for r in ranks) / n,
        sum(r is not None for r in ranks) / n,
        sum(1 / r for r in ranks if r) / n,
        tuple(ranks),
    )


def fused_score(corpus: Corpus, lists: Lists, fuse: Fuse, keyword: list[Ranked]) -> Score:
    rankings = [
        [lists.source_of[c] for c in fuse(d, kw)]
        for d, kw in zip(lists.dense, keyword, strict=True)
    ]
    return score(corpus.questions, rankings)


# --- main -----------------------------------------------------------------------------------


def answerable(questions: Sequence[EvalQuestion]) -> list[EvalQuestion]:
    return [q for q in questions if not q.unanswerable and q.gold_files]


@dataclass(frozen=True)
class Variants:
    chunkings: list[Chunking]
    fusions: list[tuple[str, Fuse]]
    columns: list[ColumnWeights]  # besides the one body column of the index


def variants(quick: bool) -> Variants:
    chunkings = [
        Chunking(900, 120, "title+path"),  # main before this change
        Chunking(900, 120, "title+path, title once"),
        Chunking(900, 120, "title"),
        Chunking(900, 120, "none"),
        Chunking(1200, 120, "title+path"),
        Chunking(1500, 150, "title+path"),
        Chunking(1200, 0, "title+path"),
        Chunking(600, 100, "title+path"),
    ]
    fusions: list[tuple[str, Fuse]] = [(f"RRF k={k}", rrf(k)) for k in (10, 30, 60, 100)]
    fusions += [(f"convex w={w}", convex(w)) for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]
    columns = [(2.0, 1.0, 1.0), (5.0, 2.0, 1.0), (10.0, 5.0, 1.0)]
    if quick:
        return Variants([*chunkings[:2], chunkings[4]], [fusions[2], fusions[5]], columns[:1])
    return Variants(chunkings, fusions, columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=default_squad_dir())
    parser.add_argument(
        "--cache",
        default=str(ROOT / BENCH_CACHE_DIR / "retrieval_variants"),
        help="folder of cached vectors ('' for none)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a few variants and the first 120 SQuAD questions"
    )
    parser.add_argument(
        "--shipped-only", action="store_true", help="only the default settings and the gate"
    )
    args = parser.parse_args()
    if not (args.squad / "questions.jsonl").exists():
        sys.exit(f"{args.squad}/questions.jsonl not found: pass --squad DIR (the squad-dev set)")
    squad = Corpus(
        "squad-dev",
        args.squad / "corpus",
        answerable(load_eval_set(args.squad / "questions.jsonl")),
    )
    docs = Corpus("eval/", DOCS_CORPUS, answerable(load_eval_set(DOCS_EVAL)))
    if args.quick:
        squad.questions = squad.questions[:120]
    corpora = (squad, docs)
    for corpus in corpora:
        corpus.load()
    embedder = CachedEmbedder(embedder_for(Settings()), Path(args.cache) if args.cache else None)
    plan = variants(args.quick)
    if args.shipped_only:
        plan = Variants([], [], [])
    started = time.perf_counter()
    print(
        f"embedder {embedder.name}; {len(squad.documents)} SQuAD passages, "
        f"{len(squad.questions)} questions; {len(docs.documents)} sample files, "
        f"{len(docs.questions)} questions; top {K}, {POOL} candidates per retriever\n"
    )
    print(
        "| chunking | fusion | keyword columns | squad-dev R@1 | R@5 | MRR "
        "| eval/ R@1 | R@5 | MRR |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    results: list[tuple[str, Score, Score]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for number, chunking in enumerate(plan.chunkings):
            lists: dict[str, Lists] = {}
            for corpus in corpora:
                records = corpus.chunk(chunking)
                folder = Path(tmp) / f"{corpus.name.strip('/')}-{number}"
                lists[corpus.name] = build_lists(corpus, records, embedder, folder)
                if number == 0:  # column weights on the baseline chunking
                    for weights in plan.columns:
                        lists[corpus.name].by_columns[weights] = column_search(
                            records, [q.question for q in corpus.questions], weights
                        )
            embedder.save()
            keyword_sides: list[tuple[str, ColumnWeights | None]] = [("one body column", None)]
            keyword_sides += [
                (f"title {w[0]:g}, section {w[1]:g}, body 1", w) for w in plan.columns
            ]
            for side, weights in keyword_sides:
                if weights is not None and number != 0:
                    continue
                for name, fuse in plan.fusions:
                    a, b = (
                        fused_score(
                            c,
                            lists[c.name],
                            fuse,
                            lists[c.name].keyword
                            if weights is None
                            else lists[c.name].by_columns[weights],
                        )
                        for c in corpora
                    )
                    label = f"{chunking.label} | {name} | {side}"
                    results.append((label, a, b))
                    print(f"| {label} | {a.row()} | {b.row()} |", flush=True)
    print(
        f"\n{embedder.embedded} texts embedded ({embedder.seconds:.1f} s), "
        f"variants in {time.perf_counter() - started:.0f} s"
    )
    if results:
        best = max(results, key=lambda r: (r[1].mrr + r[2].mrr, r[1].r1))
        print(
            f"best by MRR of both sets: {best[0]}: squad-dev {best[1].row()}; eval/ {best[2].row()}"
        )
    shipped_figures(squad, docs, embedder)
    embedder.save()


def shipped_index(corpus: Corpus, embedder: CachedEmbedder, folder: Path) -> KnowledgeIndex:
    """``corpus`` ingested as the default settings ingest it, searched as they search."""
    ingest, retrieval = IngestSettings(_env_file=None), RetrievalSettings(_env_file=None)
    index = KnowledgeIndex(
        folder,
        embedder,
        candidates=retrieval.candidates,
        rrf_k=retrieval.rrf_k,
        fusion=retrieval.fusion,
        dense_weight=retrieval.dense_weight,
    )
    records = [
        record
        for source, document in corpus.documents.items()
        for record in chunk_document(
            document,
            source=source,
            sensitivity="internal",
            file_hash="0",
            ingested_at="",
            options=ChunkingOptions(ingest.chunk_size, ingest.chunk_overlap),
        )
    ]
    vectors = embedder.documents([r.embed_text for r in records])
    for start in range(0, len(records), 500):
        index.write(records[start : start + 500], vectors[start : start + 500])
    return index


def shipped_figures(squad: Corpus, docs: Corpus, embedder: CachedEmbedder) -> None:
    """kbchat's own search and relevance gate with the default settings."""
    retrieval = RetrievalSettings(_env_file=None)
    two = RelevanceGate(
        retrieval.min_relevance, retrieval.min_keyword_relevance, retrieval.min_keyword_coverage
    )
    cosine_only = RelevanceGate(retrieval.min_relevance, math.inf)
    off_topic = [q.question for q in load_eval_set(OFF_TOPIC)]
    print(
        f"\nshipped: chunks {IngestSettings(_env_file=None).chunk_size}/"
        f"{IngestSettings(_env_file=None).chunk_overlap}, fusion {retrieval.fusion} "
        f"(dense weight {retrieval.dense_weight}, RRF k {retrieval.rrf_k}), gate cosine >= "
        f"{retrieval.min_relevance} or BM25 >= {retrieval.min_keyword_relevance} with "
        f"{retrieval.min_keyword_coverage:.0%} of the terms"
    )
    with tempfile.TemporaryDirectory() as tmp:
        indexes = {
            c.name: shipped_index(c, embedder, Path(tmp) / c.name.strip("/")) for c in (squad, docs)
        }
        figures: dict[str, Score] = {}
        for corpus in (squad, docs):
            index = indexes[corpus.name]
            hits = [index.search(q.question, K) for q in corpus.questions]
            figures[corpus.name] = got = score(
                corpus.questions, [[str(h.metadata["source"]) for h in found] for found in hits]
            )
            print(f"{corpus.name:<10} R@1 {got.r1:.3f}  R@5 {got.r5:.3f}  MRR {got.mrr:.3f}")
            report(
                "retrieval",
                f"{corpus.name} R@1 / R@5 / MRR (defaults)",
                f"{got.r1:.3f} / {got.r5:.3f} / {got.mrr:.3f}",
                "target R@1 >= 0.82, MRR >= 0.89, R@5 >= 0.97"
                if corpus is squad
                else "no loss against 0.875 / 1.000 / 0.938 before",
            )
            in_top = [found for found, rank in zip(hits, got.ranks, strict=True) if rank]
            refused_by: dict[str, int] = {}
            for name, gate in (("cosine only", cosine_only), ("two signals", two)):
                refused = [f for f in in_top if not gate.judge(f).relevant]
                refused_by[name] = len(refused)
                print(
                    f"  gate {name}: {len(refused)} of {len(in_top)} with gold in top {K} refused"
                )
            report(
                "retrieval",
                f"{corpus.name} false refusals, gold in top {K}",
                f"{refused_by['two signals']} of {len(in_top)}",
                f"target 0; cosine alone {refused_by['cosine only']}",
            )
            low = [two.judge(f) for f in in_top if not cosine_only.judge(f).relevant]
            if low:
                print(
                    "  passed by BM25 alone: "
                    + ", ".join(f"{v.best_cosine:.2f}/{v.best_keyword:.1f}" for v in low)
                    + " (cosine/BM25)"
                )
        off_sets = [
            ("off-topic on docs_corpus", off_topic, indexes[docs.name]),
            (
                "SQuAD questions on docs_corpus",
                [q.question for q in squad.questions],
                indexes[docs.name],
            ),
            ("docs questions on SQuAD", [q.question for q in docs.questions], indexes[squad.name]),
        ]
        answered_counts: dict[str, tuple[int, int, int]] = {}
        for label, questions, index in off_sets:
            verdicts = [two.judge(index.search(q, K)) for q in questions]
            only = sum(
                v.best_cosine is not None and v.best_cosine >= retrieval.min_relevance
                for v in verdicts
            )
            answered = sum(v.relevant for v in verdicts)
            answered_counts[label] = (answered, only, len(questions))
            top_kw = max((v.best_keyword or 0.0) for v in verdicts)
            print(
                f"{label}: answered {answered} of {len(questions)} (cosine only {only}); "
                f"highest BM25 {top_kw:.1f}"
            )
        answered, only, total = answered_counts["off-topic on docs_corpus"]
        report(
            "retrieval",
            "off-topic questions answered (eval/off_topic_questions.jsonl)",
            f"{answered} of {total}",
            f"target 0; cosine alone {only}",
        )
        for index in indexes.values():
            index.keyword.close()


if __name__ == "__main__":
    main()
