"""Headline figures of a benchmark script, collected for the one table `make bench` prints.

Every script prints its own detailed output; the figures that belong in the summary table are
also passed to `report`. When ``KBCHAT_BENCH_RESULTS`` names a file (the suite runner sets it),
each figure is appended to it as one JSON line; run alone, a script just prints as before.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS_ENV = "KBCHAT_BENCH_RESULTS"


@dataclass(frozen=True)
class Figure:
    """One row of the summary table."""

    area: str  # e.g. "ingestion", "search", "answering", "compare", "memory", "embedding"
    name: str  # what was measured, e.g. "pipeline / raw encode"
    value: str  # the figure with its unit, e.g. "0.95" or "15.8 ms"
    note: str = ""  # target or context, e.g. "target >= 0.85"
    script: str = ""  # the script that measured it (filled in by the runner when empty)


def report(area: str, name: str, value: str, note: str = "") -> None:
    """Record a headline figure for the summary table (no-op unless the suite runner asked)."""
    target = os.environ.get(RESULTS_ENV)
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(Figure(area, name, value, note))) + "\n")


def read_figures(path: Path, script: str) -> list[Figure]:
    """The figures a script appended to ``path``, tagged with the script's name."""
    if not path.exists():
        return []
    figures = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            row["script"] = row.get("script") or script
            figures.append(Figure(**row))
    return figures
