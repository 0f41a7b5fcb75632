"""Context compression: prompt tokens before and after, key phrases kept, time to first token.

On ``../shared/eval/squad-dev`` (ingested and searched with the default settings, top 5):

- prompt tokens per question of the whole prompt kbchat sends (chat template, instructions,
  passages, question), whole passages vs compressed (`kbchat.answering.compress`), counted by
  the private model's own tokenizer;
- key phrases: of the questions whose ``answer_contains`` phrase is in the whole passages,
  the share whose phrase is still in the compressed ones (matched as ``kbchat eval``
  matches them);
- time to first token with the private model as configured (the packaged SmolLM2 stand-in
  when Llama 2 is absent) on a small sample, both prompts of each question in turn, medians;
- what compression itself costs per question (sentence embeddings, cold cache).

Usage: python benchmarks/context_compression.py [--questions N] [--ttft N] [--squad DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import report  # noqa: E402
from benchmarks.retrieval_variants import (  # noqa: E402
    CachedEmbedder,
    Corpus,
    answerable,
    default_squad_dir,
    shipped_index,
)
from kbchat.answering.compress import ContextCompressor  # noqa: E402
from kbchat.answering.prompt import SYSTEM_PROMPT, Passage, build_messages  # noqa: E402
from kbchat.evaluation.dataset import load_eval_set  # noqa: E402
from kbchat.evaluation.phrases import match_phrases  # noqa: E402
from kbchat.knowledge import embedder_for  # noqa: E402
from kbchat.llm.llamacpp import LlamaCppBackend, default_threads  # noqa: E402
from kbchat.llm.models import resolve_local_model  # noqa: E402
from kbchat.settings import LocalModelSettings, RetrievalSettings, Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=default_squad_dir())
    parser.add_argument("--questions", type=int, default=0, help="first N questions (0: all)")
    parser.add_argument("--ttft", type=int, default=6, help="questions timed with the model")
    parser.add_argument(
        "--cache",
        default=str(ROOT / "vectorstore" / "data" / "bench-cache" / "retrieval_variants"),
        help="folder of cached vectors ('' for none)",
    )
    args = parser.parse_args()
    if not (args.squad / "questions.jsonl").exists():
        sys.exit(f"{args.squad}/questions.jsonl not found: pass --squad DIR (the squad-dev set)")
    corpus = Corpus(
        "squad-dev",
        args.squad / "corpus",
        answerable(load_eval_set(args.squad / "questions.jsonl")),
    )
    if args.questions:
        corpus.questions = corpus.questions[: args.questions]
    corpus.load()
    real = embedder_for(Settings())
    embedder = CachedEmbedder(real, Path(args.cache) if args.cache else None)
    retrieval = RetrievalSettings(_env_file=None)
    compressor = ContextCompressor(
        embedder, keep=retrieval.compress_keep, whole_top=retrieval.compress_whole_top
    )
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
    with tempfile.TemporaryDirectory() as tmp:
        index = shipped_index(corpus, embedder, Path(tmp) / "squad")
        rows = []
        for question in corpus.questions:
            passages = [
                Passage(n, hit) for n, hit in enumerate(index.search(question.question, 5), 1)
            ]
            compressed = compressor.compress(question.question, passages)
            rows.append((question, passages, compressed))
        index.keyword.close()
    embedder.save()

    before, after, in_whole, kept = [], [], 0, 0
    for question, passages, compressed in rows:
        before.append(backend.count_messages(build_messages(question.question, passages)))
        after.append(backend.count_messages(build_messages(question.question, compressed)))
        whole = "\n".join(p.hit.text for p in passages)
        short = "\n".join(p.text_for_prompt for p in compressed)
        if question.answer_contains and not match_phrases(whole, question.answer_contains)[1]:
            in_whole += 1
            kept += not match_phrases(short, question.answer_contains)[1]
        # Citations and the evidence panel see whole passages, numbered as before.
        assert [(p.n, p.hit) for p in compressed] == [(p.n, p.hit) for p in passages]
    mean_before, mean_after = statistics.mean(before), statistics.mean(after)
    ratio = mean_after / mean_before
    share = kept / in_whole if in_whole else 0.0
    print(
        f"{len(rows)} questions, top 5 passages, the first {retrieval.compress_whole_top} whole, "
        f"the others keep >= {retrieval.compress_keep:.0%} of their characters; tokens counted "
        f"by {resolved.name}"
    )
    print(
        f"prompt tokens per question: whole {mean_before:.0f} (p50 {statistics.median(before):.0f})"
        f", compressed {mean_after:.0f} (p50 {statistics.median(after):.0f}): {ratio:.2f}"
    )
    print(f"key phrases kept: {kept} of {in_whole} ({share:.1%}) whose phrase is in the passages")

    cold = ContextCompressor(
        real, keep=retrieval.compress_keep, whole_top=retrieval.compress_whole_top
    )
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
    report(
        "answering",
        "prompt tokens compressed / whole passages",
        f"{ratio:.2f}",
        f"target <= 0.5; {mean_after:.0f} vs {mean_before:.0f} tokens per question, squad-dev",
    )
    report(
        "answering",
        "key phrases kept by compression",
        f"{share:.1%}",
        f"target >= 98%; {kept} of {in_whole}; compression {compress_ms:.0f} ms per question",
    )


if __name__ == "__main__":
    main()
