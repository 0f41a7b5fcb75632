"""Ingestion and search figures, in one run, on the same chunks.

Prints:
- raw embedder encode throughput on the sample corpus's chunks (chunks/s);
- full-ingest throughput of the same corpus through the whole pipeline (parse in the parser
  worker process, chunk, embed, write to Chroma and FTS5, manifest; the stages overlap), and
  the ratio of the two (target >= 0.85). Like the embedder's load and Chroma's connection, the
  start of the parser worker (once per process) is timed apart;
- the time of a re-ingest when nothing changed;
- hybrid search latency p50/p95 at 10k and 100k chunks. The large indexes hold synthetic text
  (sentences drawn from the corpus vocabulary) with random unit vectors, because embedding
  100k chunks would take most of an hour on 2 cores; each query is embedded by the real model
  and searched by both retrievers, so the latency is what a user waits for.

Usage: python benchmarks/ingest_and_search.py [--sizes 10000 100000] [--queries 50] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks._report import report  # noqa: E402
from ingest.chunking import ChunkingOptions, chunk_document  # noqa: E402
from ingest.discover import discover  # noqa: E402
from ingest.loaders import load_document  # noqa: E402
from ingest.manifest import Manifest  # noqa: E402
from ingest.parser_pool import shared_pool  # noqa: E402
from ingest.sync import IngestJob, IngestOptions  # noqa: E402
from kbchat.knowledge import embedder_for  # noqa: E402
from kbchat.settings import Settings  # noqa: E402
from vectorstore import ChunkRecord, KnowledgeIndex  # noqa: E402
from vectorstore.embedder import Embedder  # noqa: E402

CORPUS = ROOT / "docs_corpus"
QUERIES = [
    "how many days of annual leave do I get",
    "VPN client install steps",
    "who approves purchase orders above five thousand pounds",
    "lost laptop what to do",
    "per diem for Lisbon",
    "SSO which edition",
    "parental leave pay",
    "password length rules",
    "visitor badge reception",
    "expense claim deadline after a trip",
]


def corpus_chunks(options: ChunkingOptions) -> list[ChunkRecord]:
    files, _ = discover(CORPUS)
    records: list[ChunkRecord] = []
    for source, path in files.items():
        document = load_document(path, max_bytes=50_000_000)
        records += chunk_document(
            document,
            source=source,
            sensitivity="internal",
            file_hash="",
            ingested_at="",
            options=options,
        )
    return records


def _times(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def synthetic_index(root: Path, embedder: Embedder, size: int, vocab: list[str]) -> KnowledgeIndex:
    index = KnowledgeIndex(root, embedder)
    rng = np.random.default_rng(size)
    pyrng = random.Random(size)
    batch = 5000
    for start in range(0, size, batch):
        count = min(batch, size - start)
        records = []
        for i in range(start, start + count):
            text = " ".join(pyrng.choices(vocab, k=90))
            records.append(
                ChunkRecord(
                    f"syn{i:07d}",
                    text,
                    text,
                    {"source": f"synthetic/doc{i // 10}.md", "sensitivity": "internal"},
                )
            )
        vectors = rng.normal(size=(count, embedder.dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index.write(records, vectors)
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument(
        "--rounds", type=int, default=5, help="raw encode / full ingest pairs (medians)"
    )
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    backend = Settings().index.embedding_backend  # the configured one (KBCHAT_EMBEDDING_BACKEND)
    embedder = embedder_for(Settings())
    embedder.embed_query("warm up")
    print(f"embedding backend: {backend}")
    options = ChunkingOptions(900, 120)
    records = corpus_chunks(options)
    texts = [r.embed_text for r in records]

    job_options = IngestOptions(corpus_dir=CORPUS, chunking=options)
    started = time.perf_counter()
    shared_pool(job_options.parser_limits, job_options.loader).start()  # once per process
    pool_s = time.perf_counter() - started
    # Rounds alternate raw encode and a full ingest into a fresh index, so that other work on
    # the machine weighs on both alike; the figures are medians.
    raw_times: list[float] = []
    full_times: list[float] = []
    for _round in range(args.rounds):
        started = time.perf_counter()
        embedder.embed_documents(texts)
        raw_times.append(time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as tmp:
            index = KnowledgeIndex(Path(tmp) / "idx", embedder)
            manifest = Manifest(Path(tmp) / "idx" / "manifest.sqlite3")
            index.count()  # open the Chroma connection: a fixed cost, not a per-chunk one
            started = time.perf_counter()
            ingested = IngestJob(index, manifest, job_options).run()
            full_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            again = IngestJob(index, manifest, job_options).run()
            nochange_s = time.perf_counter() - started
    raw_s, full_s = statistics.median(raw_times), statistics.median(full_times)
    raw_rate = len(texts) / raw_s
    pipeline_rate = ingested.chunks_total / full_s
    corpus = f"{ingested.files_added} files, {ingested.chunks_total} chunks"

    rows = [
        ("corpus", corpus),
        ("raw encode", f"{raw_rate:.1f} chunks/s ({raw_s:.2f} s)"),
        ("full ingest", f"{pipeline_rate:.1f} chunks/s ({full_s:.2f} s)"),
        (
            "rounds",
            f"{args.rounds} (medians; raw s {_times(raw_times)}; full s {_times(full_times)})",
        ),
        ("pipeline / raw", f"{pipeline_rate / raw_rate:.2f} (target >= 0.85)"),
        ("parser worker start", f"{pool_s:.2f} s (once per process, not in the figures above)"),
        ("no-change re-ingest", f"{nochange_s:.2f} s ({again.files_unchanged} files unchanged)"),
    ]
    report(
        "ingestion",
        "raw embedder encode",
        f"{raw_rate:.1f} chunks/s",
        f"{backend} embedder; sample corpus, {corpus}; medians of {args.rounds} rounds",
    )
    report(
        "ingestion",
        "full ingest pipeline",
        f"{pipeline_rate:.1f} chunks/s",
        "parse (worker process), chunk, embed, write both indexes, manifest; overlapped",
    )
    report(
        "ingestion",
        "pipeline / raw encode",
        f"{pipeline_rate / raw_rate:.2f}",
        f"target >= 0.85; parser worker start {pool_s:.2f} s, once per process, apart",
    )
    report(
        "ingestion",
        "re-ingest, nothing changed",
        f"{nochange_s:.2f} s",
        f"{again.files_unchanged} files unchanged",
    )

    vocab = sorted({w.lower() for t in texts for w in t.split() if w.isalpha() and len(w) > 2})
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            index = synthetic_index(Path(tmp) / "idx", embedder, size, vocab)
            build_s = time.perf_counter() - started
            latencies = []
            for i in range(args.queries):
                query = QUERIES[i % len(QUERIES)]
                t0 = time.perf_counter()
                index.search(query, 5)
                latencies.append((time.perf_counter() - t0) * 1000)
            report(
                "search",
                f"hybrid search @ {size // 1000}k chunks",
                f"p50 {pct(latencies, 0.5):.1f} ms, p95 {pct(latencies, 0.95):.1f} ms",
                f"{args.queries} queries, each embedded by the configured embedder; "
                "synthetic chunks",
            )
            rows.append(
                (
                    f"hybrid search @ {size // 1000}k",
                    f"p50 {pct(latencies, 0.5):.1f} ms, p95 {pct(latencies, 0.95):.1f} ms "
                    f"(built in {build_s:.0f} s)",
                )
            )
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
