"""Context compression: prompt tokens before and after, key phrases kept, time to first token.

On ``../shared/eval/squad-dev`` and on ``eval/docs_corpus_questions.jsonl`` over
``docs_corpus/`` (each ingested into a temporary index and searched with the default
settings, top 5):

- prompt tokens per question of the whole prompt kbchat sends (chat template, instructions,
  passages, question), whole passages vs compressed (`kbchat.answering.compress`), counted by
  the private model's own tokenizer;
- key phrases: of the questions whose ``answer_contains`` phrases are all in the whole
  passages, the share whose phrases are all still in the compressed ones (matched as
  ``kbchat eval`` matches them);
- with ``--variants``, the same two figures for other settings (the trade-off curve);
- time to first token with the private model as configured (the packaged SmolLM2 stand-in
  when Llama 2 is absent) on a small sample of SQuAD questions, both prompts of each question
  in turn, medians;
- what compression itself costs per question (sentence embeddings, cold cache).

Usage: python benchmarks/context_compression.py [--questions N] [--ttft N] [--variants]
       [--squad DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import report  # noqa: E402
from benchmarks.retrieval_variants import (  # noqa: E402
    DOCS_CORPUS,
    DOCS_EVAL,
    CachedEmbedder,
    Corpus,
    answerable,
    default_squad_dir,
    shipped_index,
)
from kbchat.answering.compress import ContextCompressor  # noqa: E402
from kbchat.answering.prompt import SYSTEM_PROMPT, Passage, build_messages  # noqa: E402
from kbchat.data_layout import BENCH_CACHE_DIR  # noqa: E402
from kbchat.evaluation.dataset import EvalQuestion, load_eval_set  # noqa: E402
from kbchat.evaluation.phrases import match_phrases  # noqa: E402
from kbchat.knowledge import embedder_for  # noqa: E402
from kbchat.llm.llamacpp import LlamaCppBackend  # noqa: E402
from kbchat.llm.model_registry import default_threads  # noqa: E402
from kbchat.llm.models import resolve_local_model  # noqa: E402
from kbchat.settings import LocalModelSettings, RetrievalSettings, Settings  # noqa: E402

# Other settings, for the trade-off curve (--variants); the defaults are the first row of each set.
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("no passage left out", {"drop_margin": None}),
    *[(f"drop margin {m}", {"drop_margin": m}) for m in (0.35, 0.3, 0.2, 0.15, 0.1)],
    ("drop margin 0.25, second passage may go", {"shown_top": 1}),
    ("first passage compressed too", {"whole_top": 0, "shown_top": 1}),
    ("keep 0.2", {"keep": 0.2}),
    ("keyword weight 1.0", {"keyword_weight": 1.0}),
]

Row = tuple[EvalQuestion, list[Passage], list[Passage]]


@dataclass
class Figures:
    """Prompt tokens and key phrases of one set, whole passages vs compressed."""

    name: str
    before: list[int]
    after: list[int]
    in_whole: int
    kept: int

    @property
    def ratio(self) -> float:
        return statistics.mean(self.after) / statistics.mean(self.before)

    @property
    def share(self) -> float:
        return self.kept / self.in_whole if self.in_whole else 0.0

    def lines(self) -> str:
        return (
            f"{self.name}: {len(self.before)} questions; prompt tokens per question: whole "
            f"{statistics.mean(self.before):.0f} (p50 {statistics.median(self.before):.0f}), "
            f"compressed {statistics.mean(self.after):.0f} (p50 "
            f"{statistics.median(self.after):.0f}): {self.ratio:.3f}\n"
            f"{self.name}: key phrases kept: {self.kept} of {self.in_whole} ({self.share:.1%}) "
            f"whose phrase is in the passages"
        )


def retrieve(corpus: Corpus, embedder: CachedEmbedder) -> list[tuple[EvalQuestion, list[Passage]]]:
    """The top 5 passages of every question, ``corpus`` ingested into a temporary index."""
    corpus.load()
    with tempfile.TemporaryDirectory() as tmp:
        index = shipped_index(corpus, embedder, Path(tmp) / "index")
        found = [
            (q, [Passage(n, hit) for n, hit in enumerate(index.search(q.question, 5), 1)])
            for q in corpus.questions
        ]
        index.keyword.close()
    return found


def measure(
    name: str,
    retrieved: list[tuple[EvalQuestion, list[Passage]]],
    compressor: ContextCompressor,
    backend: LlamaCppBackend,
    whole_tokens: dict[tuple[str, str], int],
) -> tuple[Figures, list[Row]]:
    """Compress every question's passages and count both prompts and the key phrases."""
    rows: list[Row] = []
    figures = Figures(name, [], [], 0, 0)
    for question, passages in retrieved:
        compressed = compressor.compress(question.question, passages)
        rows.append((question, passages, compressed))
        key = (name, question.question)
        if key not in whole_tokens:
            whole_tokens[key] = backend.count_messages(build_messages(question.question, passages))
        figures.before.append(whole_tokens[key])
        figures.after.append(backend.count_messages(build_messages(question.question, compressed)))
        whole = "\n".join(p.hit.text for p in passages)
        short = "\n".join(p.text_for_prompt for p in compressed)
        if question.answer_contains and not match_phrases(whole, question.answer_contains)[1]:
            figures.in_whole += 1
            figures.kept += not match_phrases(short, question.answer_contains)[1]
        # Citations and the evidence panel see whole passages, numbered as before.
        assert [(p.n, p.hit) for p in compressed] == [(p.n, p.hit) for p in passages]
    return figures, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=default_squad_dir())
    parser.add_argument("--questions", type=int, default=0, help="first N questions (0: all)")
    parser.add_argument("--ttft", type=int, default=6, help="questions timed with the model")
    parser.add_argument(
        "--variants", action="store_true", help="also the trade-off of other settings"
    )
    parser.add_argument(
        "--cache",
        default=str(ROOT / BENCH_CACHE_DIR / "retrieval_variants"),
        help="folder of cached vectors ('' for none)",
    )
    args = parser.parse_args()
    if not (args.squad / "questions.jsonl").exists():
        sys.exit(f"{args.squad}/questions.jsonl not found: pass --squad DIR (the squad-dev set)")
    corpora = [
        Corpus(
            "squad-dev",
            args.squad / "corpus",
            answerable(load_eval_set(args.squad / "questions.jsonl")),
        ),
        Corpus("eval/", DOCS_CORPUS, answerable(load_eval_set(DOCS_EVAL))),
    ]
    if args.questions:
        for corpus in corpora:
            corpus.questions = corpus.questions[: args.questions]
    real = embedder_for(Settings())
    embedder = CachedEmbedder(real, Path(args.cache) if args.cache else None)
    retrieval = RetrievalSettings(_env_file=None)
    settings: dict[str, Any] = {
        "keep": retrieval.compress_keep,
        "whole_top": retrieval.compress_whole_top,
        "shown_top": retrieval.compress_shown_top,
        "drop_margin": retrieval.compress_drop_margin,
    }
    compressor = ContextCompressor(embedder, **settings)
    local = LocalModelSettings(_env_file=None)
    resolved = resolve_local_model(local)
    threads = local.local_n_threads or default_threads()
    backend = LlamaCppBackend(
        resolved.path,
        chat_format=resolved.chat_format,
        n_ctx=local.local_n_ctx,
        n_threads=threads,
        n_gpu_layers=0,
        display_name=resolved.name,
    )
    retrieved = {corpus.name: retrieve(corpus, embedder) for corpus in corpora}
    whole_tokens: dict[tuple[str, str], int] = {}
    print(
        f"top 5 passages, the first {retrieval.compress_whole_top} whole, the first "
        f"{retrieval.compress_shown_top} always shown, others left out when their best sentence "
        f"is more than {retrieval.compress_drop_margin} below the best, compressed passages keep "
        f">= {retrieval.compress_keep:.0%} of their characters; tokens counted by {resolved.name}"
    )
    results = {
        name: measure(name, found, compressor, backend, whole_tokens)
        for name, found in retrieved.items()
    }
    for figures, _ in results.values():
        print(figures.lines())
    if args.variants:
        print("\nvariants (ratio of prompt tokens, key phrases kept), squad-dev | eval/:")
        for label, changes in VARIANTS:
            squeezer = ContextCompressor(embedder, **{**settings, **changes})
            got = [measure(n, f, squeezer, backend, whole_tokens)[0] for n, f in retrieved.items()]
            print(
                f"  {label:<44} "
                + " | ".join(f"{g.ratio:.3f} {g.kept}/{g.in_whole} ({g.share:.1%})" for g in got)
            )
    embedder.save()
    squad, rows = results["squad-dev"]
    docs = results["eval/"][0]

    cold = ContextCompressor(real, **settings)
    sample = rows[: max(args.ttft, 1)]
    started = time.perf_counter()
    for question, passages, _ in sample:
        cold.compress(question.question, passages)
    compress_ms = (time.perf_counter() - started) / len(sample) * 1000
    print(f"compression itself: {compress_ms:.0f} ms per question (cold sentence cache)")

    ttft_whole, ttft_short = [], []
    backend.warm_up(SYSTEM_PROMPT)
    for number, (question, passages, compressed) in enumerate(sample[: args.ttft]):
        runs = [(passages, ttft_whole), (compressed, ttft_short)]
        for chosen, into in runs if number % 2 == 0 else runs[::-1]:
            # Another prompt first, so neither run reuses the other's passages (both prompts
            # start with the same first passage): each evaluates all but the cached
            # instructions, as a new question does.
            for _ in backend.stream_chat(
                build_messages("Hello?", []), max_tokens=1, temperature=0.0
            ):
                pass
            stream = backend.stream_chat(
                build_messages(question.question, chosen), max_tokens=8, temperature=0.0
            )
            for _ in stream:
                pass
            if stream.stats is not None and stream.stats.ttft_s is not None:
                into.append(stream.stats.ttft_s)
    if ttft_whole and ttft_short:
        t_before, t_after = statistics.median(ttft_whole), statistics.median(ttft_short)
        print(
            f"time to first token ({resolved.name}, {threads} thread(s), {len(ttft_whole)} "
            f"questions, medians): whole {t_before:.2f} s, compressed {t_after:.2f} s: "
            f"{t_after / t_before:.2f}"
        )
        report(
            "answering",
            "TTFT compressed / whole passages",
            f"{t_after / t_before:.2f}",
            f"{t_after:.2f} s vs {t_before:.2f} s; {resolved.name}, {threads} thread(s), "
            f"{len(ttft_whole)} SQuAD questions",
        )
    for figures in (squad, docs):
        report(
            "answering",
            f"prompt tokens compressed / whole passages, {figures.name}",
            f"{figures.ratio:.2f}",
            f"target <= 0.5; {statistics.mean(figures.after):.0f} vs "
            f"{statistics.mean(figures.before):.0f} tokens per question",
        )
        report(
            "answering",
            f"key phrases kept by compression, {figures.name}",
            f"{figures.share:.1%}",
            f"target >= 98% (eval/: none lost); {figures.kept} of {figures.in_whole}; "
            f"compression {compress_ms:.0f} ms per question",
        )


if __name__ == "__main__":
    main()
