"""What kbchat's answering layers cost over raw llama-cpp-python, on the same model and prompt.

For each question of a fixed list, kbchat retrieves passages and builds its prompt; then the
same messages are answered twice with the same settings (context, threads, greedy decoding,
answer length): once by raw ``llama_cpp.Llama.create_chat_completion`` and once through
kbchat's `Answerer` (prompt budgeting, the model lock, streaming, citation mapping). Prints
time to first token and decode tokens/s of both, their ratios, and retrieval time separately.

The model is the configured private model (Llama 2 7B Chat when present, else the packaged
SmolLM2 stand-in), so the figures hold for whichever model this machine has.

Usage: python benchmarks/answer_overhead.py [--max-tokens 96] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._local_model import sample_corpus_model  # noqa: E402
from benchmarks._report import report  # noqa: E402
from kbchat.answering.budget import fit_prompt  # noqa: E402
from kbchat.answering.service import Answerer  # noqa: E402
from kbchat.knowledge import index_for  # noqa: E402
from kbchat.llm.llamacpp import _generated_tokens  # noqa: E402

QUESTIONS = [
    "How many days of annual leave do I get?",
    "Which app do I install to approve sign-ins?",
    "How long do I have to submit my receipts after a trip?",
    "Who needs to sign off a purchase order worth 12,000 pounds?",
    "What does the Team edition cost per user?",
]


def raw_answer(
    llama: Any, messages: list[dict[str, str]], prompt_tokens: int, max_tokens: int
) -> tuple[float, float]:
    """Time to first token and decode tokens/s of raw llama-cpp-python.

    Generated tokens are counted as kbchat counts them (from the tokens llama.cpp evaluated),
    so the two rates are comparable.
    """
    start = time.perf_counter()
    first = None
    finish = None
    for chunk in llama.create_chat_completion(
        messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
    ):
        choice = chunk["choices"][0]
        finish = choice.get("finish_reason") or finish
        if choice.get("delta", {}).get("content") and first is None:
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    assert first is not None
    generated = _generated_tokens(llama.n_tokens, prompt_tokens, finish, first)
    return first, generated / max(total - first, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with sample_corpus_model() as local:
        settings, resolved, threads, n_ctx = (
            local.settings,
            local.resolved,
            local.threads,
            local.n_ctx,
        )
        backend = local.backend()
        answerer = Answerer(
            index_for(settings), backend, max_answer_tokens=args.max_tokens, temperature=0.0
        )
        raw = local.raw()
        app_ttft, app_rate, raw_ttft, raw_rate, retrieval = [], [], [], [], []
        for _round in range(args.rounds):
            for question in QUESTIONS:
                found = answerer.retrieve(question)
                retrieval.append(found.seconds)
                fitted = fit_prompt(
                    question,
                    found.passages,
                    [],
                    count_messages=backend.count_messages,
                    context_window=n_ctx,
                    answer_tokens=args.max_tokens,
                )
                messages = [{"role": m.role, "content": m.content} for m in fitted.messages]
                # Alternate which side goes first, so neither always meets a warmer machine.
                for side in ("raw", "app") if len(raw_ttft) % 2 == 0 else ("app", "raw"):
                    if side == "raw":
                        first, rate = raw_answer(
                            raw, messages, fitted.prompt_tokens, args.max_tokens
                        )
                        raw_ttft.append(first)
                        raw_rate.append(rate)
                    else:
                        answer = answerer.stream(found).consume()
                        assert answer.stats is not None and answer.stats.ttft_s is not None
                        app_ttft.append(answer.stats.ttft_s)
                        app_rate.append(answer.stats.tokens_per_s or 0.0)
    med = statistics.median
    print(f"model: {resolved.name} ({resolved.path.name}), {threads} threads, n_ctx {n_ctx}")
    print(f"{'':<22}{'raw llama.cpp':>15}{'kbchat':>12}{'ratio':>9}")
    print(
        f"{'time to first token':<22}{med(raw_ttft):>13.3f} s{med(app_ttft):>10.3f} s"
        f"{med(app_ttft) / med(raw_ttft):>9.3f}"
    )
    print(
        f"{'decode tokens/s':<22}{med(raw_rate):>15.1f}{med(app_rate):>12.1f}"
        f"{med(app_rate) / med(raw_rate):>9.3f}"
    )
    print(f"{'retrieval (separate)':<22}{med(retrieval) * 1000:>13.1f} ms (median)")
    print(f"({len(raw_ttft)} questions; medians; targets: ratios within 5%)")
    model = f"{resolved.name}, {threads} thread{'s' if threads > 1 else ''}"
    report(
        "answering",
        "time to first token, kbchat / raw llama.cpp",
        f"{med(app_ttft) / med(raw_ttft):.3f}",
        f"target within 5%; raw {med(raw_ttft):.3f} s, kbchat {med(app_ttft):.3f} s; {model}",
    )
    report(
        "answering",
        "decode tokens/s, kbchat / raw llama.cpp",
        f"{med(app_rate) / med(raw_rate):.3f}",
        f"target within 5%; raw {med(raw_rate):.1f}, kbchat {med(app_rate):.1f} tokens/s",
    )
    report(
        "answering",
        "retrieval before the answer",
        f"{med(retrieval) * 1000:.1f} ms",
        f"median of {len(retrieval)}, not part of the ratios",
    )


if __name__ == "__main__":
    main()
