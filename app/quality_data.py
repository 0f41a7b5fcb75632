"""Ledger rows shaped for the Quality page's tables and charts (pandas, no Streamlit).

Win rates come from `kbchat.quality_report`; what is here only bins, counts and labels rows
for display, and makes CSV cells safe to open in a spreadsheet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

BACKEND_NAMES = {"private": "private", "cloud": "ChatGPT"}
VERDICT_SERIES = {
    "private": "Private better",
    "cloud": "ChatGPT better",
    "tie": "Tie",
    "both_wrong": "Both wrong",
}
GROUNDEDNESS_BINS = 10
MAX_LATENCY_BINS = 12
_NICE_STEPS = (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 15, 20, 30, 60, 120, 300)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def model_label(row: Mapping[str, Any]) -> str:
    """How a model is named in charts: ``SmolLM2-135M-Instruct (private)``."""
    backend = str(row.get("backend") or "")
    return f"{row.get('model') or 'unknown'} ({BACKEND_NAMES.get(backend, backend or '?')})"


def verdict_shares(groups: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """`kbchat.quality_report.win_rates` rows in long form: ``group``, ``verdict``, ``share``,
    ``count`` (one row per group and verdict), for a chart."""
    records = [
        {
            "group": group["group"],
            "verdict": label,
            "share": group[verdict] / group["judged"] if group["judged"] else 0.0,
            "count": group[verdict],
        }
        for group in groups
        for verdict, label in VERDICT_SERIES.items()
    ]
    return pd.DataFrame(records, columns=["group", "verdict", "share", "count"])


def win_rate_table(groups: Sequence[Mapping[str, Any]], name: str) -> pd.DataFrame:
    """Win-rate rows as a table: the group (named ``name``), judged, counts, rates in %."""
    table = pd.DataFrame(
        [
            {
                name: g["group"],
                "Judged": g["judged"],
                **{label: g[verdict] for verdict, label in VERDICT_SERIES.items()},
                "Private win rate": round(100 * g["private_win_rate"], 1),
                "ChatGPT win rate": round(100 * g["cloud_win_rate"], 1),
            }
            for g in groups
        ]
    )
    return table


BIN_COLUMNS = ["bin", "order", "model", "answers"]


def _binned(counts: Mapping[tuple[int, str], int], n_bins: int, label: Any) -> pd.DataFrame:
    """Counts per (bin, model) as rows, with every bin of every model (empty ones as 0)."""
    models = sorted({model for _i, model in counts})
    records = [
        {"bin": label(i), "order": i, "model": model, "answers": counts.get((i, model), 0)}
        for i in range(n_bins)
        for model in models
    ]
    return pd.DataFrame(records, columns=BIN_COLUMNS)


def groundedness_bins(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Answers per model in ten groundedness bins (0–10% … 90–100%); answers without a
    figure are left out. Columns: ``bin``, ``order`` (of the bin), ``model``, ``answers``."""
    counts: dict[tuple[int, str], int] = {}
    for row in rows:
        value = row.get("groundedness")
        if value is None:
            continue
        index = min(int(float(value) * GROUNDEDNESS_BINS), GROUNDEDNESS_BINS - 1)
        key = (index, model_label(row))
        counts[key] = counts.get(key, 0) + 1
    width = 100 // GROUNDEDNESS_BINS
    return _binned(counts, GROUNDEDNESS_BINS, lambda i: f"{i * width}–{(i + 1) * width}%")


def _nice_step(top: float) -> float:
    """A round bin width that covers 0..top in at most `MAX_LATENCY_BINS` bins."""
    for step in _NICE_STEPS:
        if top / step < MAX_LATENCY_BINS:
            return step
    return float(math.ceil(top / (MAX_LATENCY_BINS - 1)))


def latency_bins(rows: Iterable[Mapping[str, Any]], field: str) -> pd.DataFrame:
    """Answers per model in round-width bins of a time in seconds (``seconds``, ``ttft_s``).

    Columns: ``bin`` (``2–4 s``), ``order``, ``model``, ``answers``; rows without the figure
    are left out.
    """
    values = [(float(row[field]), model_label(row)) for row in rows if row.get(field) is not None]
    if not values:
        return pd.DataFrame(columns=BIN_COLUMNS)
    step = _nice_step(max(v for v, _ in values) or 1.0)
    counts: dict[tuple[int, str], int] = {}
    for value, model in values:
        key = (int(value // step), model)
        counts[key] = counts.get(key, 0) + 1
    n_bins = max(i for i, _ in counts) + 1
    return _binned(counts, n_bins, lambda i: f"{i * step:g}–{(i + 1) * step:g} s")


def latency_by_day(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Median total seconds per day and model. Columns: ``day``, ``model``, ``seconds``."""
    frame = pd.DataFrame(
        [
            {"day": str(r["at"])[:10], "model": model_label(r), "seconds": float(r["seconds"])}
            for r in rows
            if r.get("seconds") is not None and r.get("at")
        ],
        columns=["day", "model", "seconds"],
    )
    if frame.empty:
        return frame
    return frame.groupby(["day", "model"], as_index=False)["seconds"].median()


def thumbs(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Thumbs up and down per model (answers rated on the Chat page only)."""
    counts: dict[str, list[int]] = {}
    for row in rows:
        rating = row.get("rating")
        if rating not in (1, -1):
            continue
        up_down = counts.setdefault(model_label(row), [0, 0])
        up_down[0 if rating == 1 else 1] += 1
    return pd.DataFrame(
        [
            {
                "Model": model,
                "Thumbs up": up,
                "Thumbs down": down,
                "Up %": round(100 * up / (up + down)),
            }
            for model, (up, down) in sorted(counts.items())
        ],
        columns=["Model", "Thumbs up", "Thumbs down", "Up %"],
    )
