"""Time to first token with the prompt prefix kept between questions, against without it.

The sample corpus is ingested into a temporary index; for each question kbchat retrieves
passages and builds its real prompt (system prompt, numbered passages, question). The same
prompts are then answered by the configured private model (the packaged SmolLM2 stand-in
when Llama 2 is absent; threads as `default_threads` gives), each way on its own instance
of the model so that they can take turns question by question (the machine's load then
weighs on all alike):

a. cold: raw ``llama_cpp.Llama.create_chat_completion`` on an emptied model for every
   question (no reuse at all);
b. before: raw ``create_chat_completion`` on a model that keeps its state, as kbchat did
   before the prefix cache: only llama-cpp-python's own reuse of what the last prompt
   shares with the new one;
c. prefix cache: kbchat's `LlamaCppBackend` after ``warm_up(SYSTEM_PROMPT)``;
d. prefix cache, first question after load without warm_up.

In b and c another prompt (another system prompt) uses the model between the fourth and the
fifth question, as another caller of a shared model would. For every answer the script
prints the time to first token and the prompt tokens llama.cpp evaluated (read from its own
counters), then medians and ratios. Greedy decoding; c's answers must equal a's.

Usage: python benchmarks/prompt_cache.py [--rounds 2] [--max-tokens 16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._local_model import sample_corpus_model  # noqa: E402
from benchmarks._report import report  # noqa: E402
from kbchat.answering.budget import fit_prompt  # noqa: E402
from kbchat.answering.prompt import SYSTEM_PROMPT  # noqa: E402
from kbchat.answering.service import Answerer  # noqa: E402
from kbchat.knowledge import index_for  # noqa: E402
from kbchat.llm.base import ChatMessage  # noqa: E402
from kbchat.llm.llamacpp import LlamaCppBackend  # noqa: E402
from kbchat.settings import Settings  # noqa: E402

QUESTIONS = [
    "How many days of annual leave do I get?",
    "Which app do I install to approve sign-ins?",
    "How long do I have to submit my receipts after a trip?",
    "Who needs to sign off a purchase order worth 12,000 pounds?",
    "What does the Team edition cost per user?",
    "How do I report a lost laptop?",
    "Can I work from abroad?",
    "What is the notice period if I resign?",
]
AFTER_OTHER = 4  # index of the question asked right after another prompt
OTHER_PROMPT = [
    ChatMessage("system", "You are a helpful assistant. Answer in one short sentence."),
    ChatMessage("user", "What is the capital of France?"),
]
WAYS = ("a cold", "b before", "c prefix cache", "d no warm_up")


@dataclass(frozen=True)
class Run:
    """One answer: which question, its time to first token, what was evaluated."""

    round: int
    question: int
    ttft_s: float
    tokens_in: int
    evaluated: int
    cached: int
    text: str


@dataclass(frozen=True)
class Prompt:
    """A question's messages as kbchat builds them, and their token count."""

    question: int
    messages: list[ChatMessage]
    tokens: int


def _dicts(messages: list[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def raw_ask(llama: Any, prompt: Prompt, max_tokens: int, round_: int, *, empty: bool) -> Run:
    """Answer with raw llama-cpp-python as kbchat did before (``empty``: from nothing)."""
    import llama_cpp

    if empty:
        llama.reset()
    llama_cpp.llama_perf_context_reset(llama.ctx)
    start = time.perf_counter()
    first: float | None = None
    text = ""
    for chunk in llama.create_chat_completion(
        messages=_dicts(prompt.messages), max_tokens=max_tokens, temperature=0.0, stream=True
    ):
        delta = chunk["choices"][0].get("delta", {}).get("content")
        if delta:
            if first is None:
                first = time.perf_counter() - start
            text += delta
    assert first is not None, "the model wrote nothing"
    evaluated = llama_cpp.llama_perf_context(llama.ctx).n_p_eval
    return Run(round_, prompt.question, first, prompt.tokens, evaluated, 0, text)


def kbchat_ask(backend: LlamaCppBackend, prompt: Prompt, max_tokens: int, round_: int) -> Run:
    """Answer through kbchat's backend (prefix cache on)."""
    import llama_cpp

    ctx = backend.shared.llama().ctx
    llama_cpp.llama_perf_context_reset(ctx)
    stream = backend.stream_chat(prompt.messages, max_tokens=max_tokens, temperature=0.0)
    text = "".join(stream)
    stats = stream.stats
    assert stats is not None and stats.ttft_s is not None, "the model wrote nothing"
    evaluated = llama_cpp.llama_perf_context(ctx).n_p_eval
    return Run(
        round_, prompt.question, stats.ttft_s, stats.tokens_in, evaluated, stats.cached_tokens, text
    )


def empty_backend(backend: LlamaCppBackend) -> None:
    """Forget everything the model evaluated, and every saved prefix."""
    shared = backend.shared
    shared.lock.acquire()
    try:
        shared.llama().reset()
        shared.prefixes.clear()
    finally:
        shared.lock.release()


def build_prompts(settings: Settings, backend: LlamaCppBackend, max_tokens: int) -> list[Prompt]:
    """kbchat's prompts for `QUESTIONS` on the sample corpus, fitted to the context."""
    answerer = Answerer(index_for(settings), backend, max_answer_tokens=max_tokens)
    prompts = []
    for i, question in enumerate(QUESTIONS):
        fitted = fit_prompt(
            question,
            answerer.retrieve(question).passages,
            [],
            count_messages=backend.count_messages,
            context_window=backend.context_window,
            answer_tokens=max_tokens,
        )
        prompts.append(Prompt(i, fitted.messages, fitted.prompt_tokens))
    return prompts


def one_round(
    prompts: list[Prompt],
    cold: Any,
    before: Any,
    cached: LlamaCppBackend,
    max_tokens: int,
    round_: int,
) -> dict[str, list[Run]]:
    """Every question answered the three ways, taking turns; then d."""
    other = Prompt(-1, OTHER_PROMPT, 0)
    before.reset()  # b starts from a freshly loaded model
    empty_backend(cached)
    cached.warm_up(SYSTEM_PROMPT)
    runs: dict[str, list[Run]] = {way: [] for way in WAYS}
    for prompt in prompts:
        if prompt.question == AFTER_OTHER:
            raw_ask(before, other, max_tokens, round_, empty=False)
            kbchat_ask(cached, other, max_tokens, round_)
        ways: list[tuple[str, Callable[[], Run]]] = [
            ("a cold", partial(raw_ask, cold, prompt, max_tokens, round_, empty=True)),
            ("b before", partial(raw_ask, before, prompt, max_tokens, round_, empty=False)),
            ("c prefix cache", partial(kbchat_ask, cached, prompt, max_tokens, round_)),
        ]
        turn = prompt.question % len(ways)  # who goes first changes from question to question
        for way, ask in ways[turn:] + ways[:turn]:
            runs[way].append(ask())
    empty_backend(cached)
    runs["d no warm_up"].append(kbchat_ask(cached, prompts[0], max_tokens, round_))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()
    with sample_corpus_model() as local:
        settings, resolved, threads, n_ctx = (
            local.settings,
            local.resolved,
            local.threads,
            local.n_ctx,
        )
        cached = local.backend()
        prompts = build_prompts(settings, cached, args.max_tokens)

    cold, before = local.raw(), local.raw()
    prefix = cached.shared.constant_prefix((resolved.chat_format, SYSTEM_PROMPT))
    runs: dict[str, list[Run]] = {way: [] for way in WAYS}
    for round_ in range(args.rounds):
        done_round = one_round(prompts, cold, before, cached, args.max_tokens, round_)
        for way, done in done_round.items():
            runs[way].extend(done)

    print(
        f"model: {resolved.name} ({resolved.path.name}), chat format {resolved.chat_format}, "
        f"{threads} thread(s), n_ctx {n_ctx}; constant prefix {len(prefix)} tokens; "
        f"{args.rounds} rounds, greedy, {args.max_tokens}-token answers"
    )
    print_table(runs)
    summarise(runs, resolved.name, threads, len(prefix))


def print_table(runs: dict[str, list[Run]]) -> None:
    names = list(runs)
    print(f"\n{'question':<10}{'tokens':>7}" + "".join(f"{n:>24}" for n in names))
    print(f"{'':<17}" + "".join(f"{'TTFT s / evaluated':>24}" for _ in names))
    for i in range(len(QUESTIONS)):
        label = f"q{i + 1}" + (" *" if i == AFTER_OTHER else "")
        tokens = next(r.tokens_in for r in runs[names[0]] if r.question == i)
        cells = []
        for name in names:
            mine = [r for r in runs[name] if r.question == i]
            if mine:
                ttft = statistics.median(r.ttft_s for r in mine)
                evaluated = statistics.median(r.evaluated for r in mine)
                cells.append(f"{ttft:>14.3f} / {evaluated:>5.0f}")
            else:
                cells.append(f"{'':>22}")
        print(f"{label:<10}{tokens:>7}" + "".join(f"{c:>24}" for c in cells))
    print("(* right after another prompt used the model; medians over rounds)")


def summarise(runs: dict[str, list[Run]], model: str, threads: int, prefix: int) -> None:
    """Medians per way, and time ratios paired question by question within a round.

    The three ways answer a question back to back, so the ratio of a pair is little
    disturbed by what else the machine does; the median over pairs is the headline.
    """
    med = statistics.median
    a, b, c, d = (runs[way] for way in WAYS)

    def ttft(rs: list[Run]) -> float:
        return med(r.ttft_s for r in rs)

    def evaluated(rs: list[Run]) -> float:
        return med(r.evaluated for r in rs)

    def paired(num: list[Run], den: list[Run]) -> float:
        base = {(r.round, r.question): r.ttft_s for r in den}
        return med(r.ttft_s / base[(r.round, r.question)] for r in num)

    def only(rs: list[Run], *questions: int) -> list[Run]:
        return [r for r in rs if r.question in questions]

    first, other = 0, AFTER_OTHER
    steady = [i for i in range(len(QUESTIONS)) if i not in (first, other)]
    rows = [
        ("all questions", a, b, c),
        ("first after load", only(a, first), only(b, first), only(c, first)),
        ("after another prompt", only(a, other), only(b, other), only(c, other)),
        ("the others", only(a, *steady), only(b, *steady), only(c, *steady)),
    ]
    print(f"\n{'TTFT p50 (s)':<24}{'a cold':>9}{'b before':>10}{'c cache':>9}{'c/a':>7}{'c/b':>7}")
    for label, ra, rb, rc in rows:
        print(
            f"{label:<24}{ttft(ra):>9.3f}{ttft(rb):>10.3f}{ttft(rc):>9.3f}"
            f"{paired(rc, ra):>7.2f}{paired(rc, rb):>7.2f}"
        )
    print("(c/a, c/b: median of the ratios of answers to the same question in the same round)")
    print(
        f"\n{'prompt tokens evaluated':<24}{'a cold':>9}{'b before':>10}{'c cache':>9}"
        f"{'c/a':>7}{'c/b':>7}"
    )
    for label, ra, rb, rc in rows:
        ea, eb, ec = evaluated(ra), evaluated(rb), evaluated(rc)
        print(f"{label:<24}{ea:>9.0f}{eb:>10.0f}{ec:>9.0f}{ec / ea:>7.2f}{ec / eb:>7.2f}")
    print(
        f"\nd, first question after load without warm_up: TTFT {ttft(d):.3f} s, "
        f"{evaluated(d):.0f} tokens evaluated (the prefix is saved on the way)"
    )
    cold_text = {r.question: r.text for r in a}
    same = sum(r.text == cold_text[r.question] for r in c)
    print(f"greedy answers of c equal to a's: {same}/{len(c)}")
    checked = sum(r.evaluated == r.tokens_in - r.cached for r in c)
    print(f"c: llama.cpp's evaluated count == tokens_in - cached_tokens: {checked}/{len(c)}")

    where = f"{model}, {threads} thread(s)"
    report(
        "answering",
        "TTFT with cached prefix / cold",
        f"{paired(c, a):.2f}",
        f"{where}, {len(QUESTIONS)} questions; prompt tokens evaluated p50 "
        f"{evaluated(c):.0f} vs {evaluated(a):.0f}",
    )
    report(
        "answering",
        "TTFT after another prompt: cached prefix / before",
        f"{paired(only(c, other), only(b, other)):.2f}",
        f"{where}; evaluated {evaluated(only(c, other)):.0f} vs {evaluated(only(b, other)):.0f}",
    )
    report(
        "answering",
        "TTFT first question after warm_up / before",
        f"{paired(only(c, first), only(b, first)):.2f}",
        f"{where}; evaluated {evaluated(only(c, first)):.0f} vs {evaluated(only(b, first)):.0f}",
    )
    report(
        "answering",
        "constant prompt prefix kept",
        f"{prefix} tokens",
        f"{model}; greedy answers identical to cold: {same}/{len(c)}",
    )


if __name__ == "__main__":
    main()
