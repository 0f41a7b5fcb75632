"""PyTorch or ONNX Runtime for the embedder? Speed and quality on the same chunks, measured.

For PyTorch (sentence-transformers, as kbchat runs it, and on 1 thread) and each ONNX variant
(float32 and int8, with 1 or 2 forward passes at once, and int8 on ONNX Runtime's own 2-thread
pool), on the sample corpus's chunks:
- encode throughput (chunks/s), median and best of ``--rounds`` rounds; the backends take turns
  within each round, so a busy neighbour on the machine slows them alike;
- the ratio of each median to PyTorch's (target for int8: >= 2);
- cosine similarity of each backend's vectors to PyTorch's (min / mean);
- recall@5 and MRR on the evaluation set, hybrid and dense only, with an index built by each
  backend through the ingestion job in a temporary folder (target: recall@5 within 0.01 of
  PyTorch); the lowest best-passage dense score of an answerable question and the highest of
  an off-topic one (the relevance gate, KBCHAT_MIN_RELEVANCE = 0.3, must stay between them);
- the one-off export time of each ONNX variant, and the time to load it from the cache.

Usage: python benchmarks/embedding_backends.py [--rounds 5] [--threads 1 2] [--batch-size 32]
(``--threads``: forward passes at once; ``--batch-size``: PyTorch and ONNX fp32; int8 runs
one text per pass.)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks._report import report  # noqa: E402
from benchmarks.ingest_and_search import CORPUS, corpus_chunks  # noqa: E402
from ingest.chunking import ChunkingOptions  # noqa: E402
from ingest.manifest import Manifest  # noqa: E402
from ingest.sync import IngestJob, IngestOptions  # noqa: E402
from kbchat.evaluation import EvalQuestion, load_eval_set, score_retrieval  # noqa: E402
from vectorstore import (  # noqa: E402
    Embedder,
    KnowledgeIndex,
    SearchMode,
    SentenceTransformerEmbedder,
)
from vectorstore.onnx.cache import META_FILE, MODEL_FILE  # noqa: E402
from vectorstore.onnx.embedder import OnnxEmbedder  # noqa: E402

EVAL = ROOT / "eval" / "docs_corpus_questions.jsonl"
SCORED_MODES: tuple[SearchMode, ...] = ("hybrid", "dense")
OFF_TOPIC = (
    "Who won the 2018 football World Cup?",
    "What is the capital of Australia?",
    "How do I bake sourdough bread?",
    "Explain quantum entanglement in simple terms.",
    "Recommend a good science fiction novel.",
)


class TorchThreads:
    """The PyTorch embedder with torch's thread count set for each call (it is global)."""

    def __init__(self, inner: SentenceTransformerEmbedder, threads: int) -> None:
        self.inner = inner
        self.threads = threads
        self.name = inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return self.inner.embed_documents(texts)
        finally:
            torch.set_num_threads(before)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


@dataclass
class Backend:
    """One configuration under test."""

    label: str
    model: str  # backends with the same model make the same vectors
    embedder: Embedder
    default: bool = False  # how kbchat runs this model
    rates: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Quality:
    """Retrieval figures of one model."""

    cos_min: float
    cos_mean: float
    hybrid: tuple[float, float]
    dense: tuple[float, float]
    answerable_min: float
    off_topic_max: float
    ingest_rate: float


def measure_quality(
    embedder: Embedder,
    reference: np.ndarray,
    texts: list[str],
    questions: list[EvalQuestion],
    chunking: ChunkingOptions,
) -> Quality:
    """Compare vectors with PyTorch's, then build an index via the ingestion job and score it."""
    cosines = (embedder.embed_documents(texts) * reference).sum(axis=1)
    with tempfile.TemporaryDirectory() as tmp:
        index = KnowledgeIndex(Path(tmp) / "idx", embedder)
        manifest = Manifest(Path(tmp) / "idx" / "manifest.sqlite3")
        index.count()  # open Chroma first: a fixed cost, not a per-chunk one
        started = time.perf_counter()
        report = IngestJob(index, manifest, IngestOptions(CORPUS, chunking=chunking)).run()
        ingest_rate = report.chunks_total / (time.perf_counter() - started)
        scores = {}
        for mode in SCORED_MODES:

            def sources(question: str, mode: SearchMode = mode) -> list[str]:
                return [str(h.metadata["source"]) for h in index.search(question, 5, mode=mode)]

            summary = score_retrieval(questions, sources, 5)
            scores[mode] = (summary.recall_at_k, summary.mrr)
        best = {}
        for question in [q.question for q in questions if q.gold_files] + list(OFF_TOPIC):
            hits = index.search(question, 1, mode="dense")
            best[question] = hits[0].score if hits else 0.0
    answerable = [best[q.question] for q in questions if q.gold_files]
    return Quality(
        cos_min=float(cosines.min()),
        cos_mean=float(cosines.mean()),
        hybrid=scores["hybrid"],
        dense=scores["dense"],
        answerable_min=min(answerable),
        off_topic_max=max(best[q] for q in OFF_TOPIC),
        ingest_rate=ingest_rate,
    )


def export_in_fresh_process(cache: Path, quantize: bool) -> tuple[float, float]:
    """Export as a first run of kbchat would: torch and sentence-transformers not yet loaded.

    Returns:
        The export time in seconds and the model file size in MB.
    """
    script = (
        "import sys; from pathlib import Path; "
        "from vectorstore.onnx.embedder import OnnxEmbedder; "
        "e = OnnxEmbedder(cache_dir=Path(sys.argv[1]), quantize=sys.argv[2] == '1'); "
        "e.embed_query('export'); print(e.model_dir)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(cache), "1" if quantize else "0"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    folder = Path(done.stdout.strip().splitlines()[-1])
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    return float(meta["export_seconds"]), (folder / MODEL_FILE).stat().st_size / 1e6


def intra_op_threads(embedder: OnnxEmbedder, threads: int) -> OnnxEmbedder:
    """The same export run one pass at a time on ONNX Runtime's own thread pool (its default,
    spinning idle threads included), to compare with passes run in parallel."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    runtime = embedder._loaded()
    session = onnxruntime.InferenceSession(
        str(runtime.folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
    )
    variant = OnnxEmbedder(cache_dir=embedder.cache_dir, quantize=embedder.quantize, threads=1)
    variant._runtime = dataclasses.replace(runtime, session=session)
    return variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average at start {os.getloadavg()[0]:.2f}"
    )
    chunking = ChunkingOptions(900, 120)
    texts = [r.embed_text for r in corpus_chunks(chunking)]
    questions = load_eval_set(EVAL)

    torch_embedder = SentenceTransformerEmbedder(batch_size=args.batch_size)
    torch_embedder.embed_query("warm up")
    import torch

    backends = [Backend(f"pytorch ({torch.get_num_threads()} threads)", "pytorch", torch_embedder)]
    if torch.get_num_threads() != 1:
        backends.append(Backend("pytorch (1 thread)", "pytorch", TorchThreads(torch_embedder, 1)))

    setup_rows = []
    cache = tempfile.TemporaryDirectory()
    for quantize in (False, True):
        variant = "int8" if quantize else "fp32"
        export_s, size_mb = export_in_fresh_process(Path(cache.name), quantize)
        for threads in args.threads:
            started = time.perf_counter()
            embedder = OnnxEmbedder(
                cache_dir=Path(cache.name),
                quantize=quantize,
                batch_size=args.batch_size,
                threads=threads,
            )
            embedder.embed_query("load")
            load_s = time.perf_counter() - started
            label = f"onnx {variant}, {threads} pass{'es' if threads > 1 else ''} at once"
            default = threads == OnnxEmbedder(cache_dir=Path(cache.name)).threads
            backends.append(Backend(label, f"onnx {variant}", embedder, default))
        if quantize:
            label = "onnx int8, 1 pass at once, ORT's 2 intra-op threads"
            backends.append(Backend(label, "onnx int8", intra_op_threads(embedder, 2)))
        setup_rows.append(
            (
                f"onnx {variant}",
                f"export {export_s:.1f} s (once, in a fresh process), load from cache "
                f"{load_s:.2f} s, model file {size_mb:.1f} MB",
            )
        )

    for backend in backends:  # warm up: first runs allocate
        backend.embedder.embed_documents(texts[:64])
    for round_no in range(args.rounds):
        turn = backends[round_no % len(backends) :] + backends[: round_no % len(backends)]
        for backend in turn:
            started = time.perf_counter()
            backend.embedder.embed_documents(texts)
            backend.rates.append(len(texts) / (time.perf_counter() - started))

    reference = torch_embedder.embed_documents(texts)
    quality: dict[str, Quality] = {}
    for backend in backends:
        if backend.model in quality:
            continue
        quality[backend.model] = measure_quality(
            backend.embedder, reference, texts, questions, chunking
        )

    base = statistics.median(backends[0].rates)
    print(
        f"corpus: {len(texts)} chunks; {args.rounds} rounds; batch size {args.batch_size}; "
        f"load average at end {os.getloadavg()[0]:.2f}"
    )
    print()
    header = ("backend", "median/s", "best/s", "x pytorch", "cos min", "cos mean")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for backend in backends:
        q = quality[backend.model]
        median = statistics.median(backend.rates)
        print(
            f"| {backend.label} | {median:.1f} | {max(backend.rates):.1f} | "
            f"{median / base:.2f} | {q.cos_min:.4f} | {q.cos_mean:.4f} |"
        )
    print()
    quality_header = (
        "model",
        "hybrid R@5",
        "hybrid MRR",
        "dense R@5",
        "dense MRR",
        "best dense score: answerable min / off-topic max",
        "full ingest/s",
    )
    print("| " + " | ".join(quality_header) + " |")
    print("|" + "---|" * len(quality_header))
    for model, q in quality.items():
        print(
            f"| {model} | {q.hybrid[0]:.3f} | {q.hybrid[1]:.3f} | {q.dense[0]:.3f} | "
            f"{q.dense[1]:.3f} | {q.answerable_min:.3f} / {q.off_topic_max:.3f} | "
            f"{q.ingest_rate:.1f} |"
        )
    print()
    for key, value in setup_rows:
        print(f"{key}: {value}")

    int8 = [b for b in backends if b.model == "onnx int8"]
    chosen = next((b for b in int8 if b.default), int8[-1])  # how kbchat runs it, if measured
    speedup = statistics.median(chosen.rates) / base
    q, ref = quality["onnx int8"], quality["pytorch"]
    recall_gap = max(abs(q.hybrid[0] - ref.hybrid[0]), abs(q.dense[0] - ref.dense[0]))
    print(
        f"targets: {chosen.label} (the default) at {speedup:.2f}x pytorch (>= 2: "
        f"{'yes' if speedup >= 2 else 'NO'}); recall@5 within {recall_gap:.3f} of pytorch "
        f"(<= 0.01: {'yes' if recall_gap <= 0.01 else 'NO'})"
    )
    report(
        "embedding",
        "ONNX int8 encode",
        f"{statistics.median(chosen.rates):.1f} chunks/s",
        f"{chosen.label}; {backends[0].label} {base:.1f} chunks/s; medians of {args.rounds}",
    )
    report("embedding", "ONNX int8 / PyTorch encode speed", f"{speedup:.2f}x", "target >= 2")
    for model, scores in quality.items():
        report(
            "embedding",
            f"recall@5 hybrid / dense, {model}",
            f"{scores.hybrid[0]:.3f} / {scores.dense[0]:.3f}",
            "the reference" if model == "pytorch" else "target within 0.01 of pytorch",
        )
    cache.cleanup()


if __name__ == "__main__":
    main()
