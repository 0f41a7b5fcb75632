"""Decode speed of the two in-process engines on the same Llama 2 era GGUF file.

The file is the tiny Llama-architecture model the tests write (`tests/fixtures/tiny_llama.py`:
random weights, a small SentencePiece-style vocabulary), so both engines can load it here;
its answers are junk, its mechanics real. Each engine answers the same question with greedy
decoding through kbchat's backend (`LlamaCppBackend`, `CTransformersBackend`: the latter's
model runs in a child process, so its figure includes the pipe); medians of ``--rounds``.

Prints decode tokens/s of each engine (generated tokens over the answer's whole time, a short
prompt of about 40 tokens included: the random weights' junk is often not valid UTF-8, which
llama.cpp holds back, so the first text delta is no clean start of decoding), the time to the
first text delta, and the ratio of the two engines.

Usage: python benchmarks/engines.py [--rounds 5] [--tokens 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import report  # noqa: E402
from kbchat.llm.base import ChatBackend, ChatMessage  # noqa: E402
from kbchat.llm.ctransformers_engine import CTransformersBackend  # noqa: E402
from kbchat.llm.llamacpp import LlamaCppBackend  # noqa: E402
from tests.fixtures.tiny_llama import write_tiny_llama  # noqa: E402

QUESTION = [
    ChatMessage("system", "Answer from the passages."),
    ChatMessage("user", "How many days of annual leave do I get?"),
]


def measure(backend: ChatBackend, rounds: int, tokens: int) -> tuple[float, float, int]:
    """Median decode tokens/s, median time to first token, and tokens per answer."""
    list(backend.stream_chat(QUESTION, max_tokens=4, temperature=0.0))  # load, warm up
    rates, ttfts, produced = [], [], 0
    for _ in range(rounds):
        stream = backend.stream_chat(QUESTION, max_tokens=tokens, temperature=0.0)
        for _delta in stream:
            pass
        stats = stream.stats
        assert stats is not None and stats.ttft_s is not None and stats.seconds > 0
        produced = stats.tokens_out
        # Over the whole answer: the junk text of random weights is often not valid UTF-8,
        # and llama.cpp holds such bytes back, so the first text delta can come late.
        rates.append(produced / stats.seconds)
        ttfts.append(stats.ttft_s)
    return statistics.median(rates), statistics.median(ttfts), produced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; {args.threads} thread(s) per engine")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_tiny_llama(Path(tmp) / "tiny-llama.gguf")
        engines: dict[str, ChatBackend] = {
            "llama-cpp": LlamaCppBackend(
                path,
                chat_format="llama-2",
                n_ctx=512,
                n_threads=args.threads,
                n_gpu_layers=0,
                display_name="tiny-llama",
                prefix_cache=False,
            ),
            "ctransformers": CTransformersBackend(
                path,
                chat_format="llama-2",
                n_ctx=512,
                n_threads=args.threads,
                display_name="tiny-llama",
            ),
        }
        try:
            import ctransformers  # noqa: F401
        except ImportError:
            print("ctransformers is not installed (pip install 'kbchat[ctransformers]'): skipped")
            del engines["ctransformers"]
        figures = {}
        for name, backend in engines.items():
            rate, ttft, produced = measure(backend, args.rounds, args.tokens)
            figures[name] = rate
            print(
                f"{name:14s} decode {rate:8.1f} tokens/s  ttft {ttft * 1000:6.1f} ms  "
                f"({produced} tokens per answer)"
            )
            report(
                "answering",
                f"decode tokens/s, {name}",
                f"{rate:.1f}",
                f"tiny Llama GGUF written by the tests ({path.stat().st_size // 1024} KB), "
                f"{args.threads} thread(s), greedy, medians of {args.rounds}",
            )
    if "ctransformers" not in figures:
        return
    ratio = figures["ctransformers"] / figures["llama-cpp"]
    print(f"ctransformers / llama-cpp decode: {ratio:.2f}")
    report("answering", "decode tokens/s, ctransformers / llama-cpp", f"{ratio:.2f}", "same file")


if __name__ == "__main__":
    main()
