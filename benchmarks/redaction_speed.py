"""Redaction time against input length: linear, also on input built to make regexes backtrack.

Each shape is redacted at every size (10k, 100k, 1M characters by default); a linear redactor
takes about ten times longer for ten times the text. The shapes: ordinary policy text with
e-mails, phone numbers and keys in it; non-ASCII text (every character goes through the
normalisation map); and inputs that made the earlier patterns quadratic (dotted words for the
e-mail pattern, digit runs for the phone pattern, BEGIN lines without END for key blocks) or
that could (long base64, key words with no value).

Usage: python benchmarks/redaction_speed.py [--sizes 10000,100000,1000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import report  # noqa: E402
from kbchat.policy.redaction import Redactor  # noqa: E402

POLICY = (
    "Annual leave is 27 days; carry over 5 days until 31 March 2026. Ask j.okafor@quillon.example "
    "or call +44 113 496 0123. Version 4.3.1 was released on 2026-03-06; order PO-884213 costs "
    "£1 299. Employee QS-004512 used key AKIAIOSFODNN7EXAMPLE and password: Summer2026!\n"
)
SHAPES: dict[str, Callable[[int], str]] = {
    "policy text with values": lambda n: (POLICY * (n // len(POLICY) + 1))[:n],
    "non-ASCII text": lambda n: ("Zoë＠quillon.example ruft 0113\u00a0496\u00a00123 an – ﬁn. " * n)[
        :n
    ],
    "dotted words (e-mail)": lambda n: ("a." * n)[:n],
    "digit runs (phone)": lambda n: ("1 " * n)[: n - 1] + "a",
    "BEGIN without END (keys)": lambda n: ("-----BEGIN RSA PRIVATE KEY-----\n" * n)[:n],
    "long base64": lambda n: ("QUtJQUlPU0ZPRE5ON0VYQU1QTEVhd3M" * n)[:n],
    "key words, no value": lambda n: ("password: token= secret " * n)[:n],
}


def seconds(text: str, repeat: int) -> float:
    redactor = Redactor(["email", "phone", "id", "secret"])
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        redactor.redact(text)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs per cell")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'shape':28}" + "".join(f"{n:>12,}" for n in sizes) + "   growth per 10x")
    worst_largest = 0.0
    worst_growth = 0.0
    for name, make in SHAPES.items():
        times = [seconds(make(n), args.repeat) for n in sizes]
        growth = [
            b / a / (m / n) * 10
            for a, b, n, m in zip(times, times[1:], sizes, sizes[1:], strict=False)
            if a > 0
        ]
        worst_largest = max(worst_largest, times[-1])
        worst_growth = max([worst_growth, *growth])
        cells = "".join(f"{t:>11.3f}s" for t in times)
        print(f"{name:28}{cells}   {', '.join(f'{g:.1f}x' for g in growth)}")
    print(f"\nslowest shape at {sizes[-1]:,} characters: {worst_largest:.2f} s")
    report("privacy", f"redaction, slowest shape at {sizes[-1]:,} chars", f"{worst_largest:.2f} s",
           "linear: about 10x time per 10x text")  # fmt: skip
    report("privacy", "redaction time growth per 10x text (worst shape)", f"{worst_growth:.1f}x",
           "quadratic would be 100x")  # fmt: skip


if __name__ == "__main__":
    main()
