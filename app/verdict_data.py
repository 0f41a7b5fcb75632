"""The verdict report shaped for the Verdict page's tables and chart (pandas, no Streamlit)."""

from __future__ import annotations

import pandas as pd

from kbchat.verdict.figures import GroupVerdict, VerdictReport
from kbchat.verdict.report import VERDICT_WORDS

OVERALL = "All topics"
INTERVAL_COLUMNS = ["group", "estimate", "rate", "low", "high", "judgements"]


def groups(report: VerdictReport) -> list[tuple[str, GroupVerdict]]:
    """The overall verdict first, then each topic in name order."""
    return [(OVERALL, report.overall), *sorted(report.topics.items())]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def verdict_table(report: VerdictReport) -> pd.DataFrame:
    """One row per group: verdict, rate, interval, counts, what it rests on, more needed."""
    return pd.DataFrame(
        [
            {
                "Topic": name,
                "Verdict": VERDICT_WORDS[v.estimate.decision],
                "At least as good": _pct(v.estimate.rate),
                "95% interval": f"{v.estimate.ci_low:.0%}–{v.estimate.ci_high:.0%}",
                "Wins": v.counts.wins,
                "Ties": v.counts.ties,
                "Losses": v.counts.losses,
                "Judgements": v.judgements,
                "By people": v.human,
                "By the judge": v.judge,
                "More needed": v.estimate.more_needed,
            }
            for name, v in groups(report)
        ]
    )


def intervals(report: VerdictReport) -> pd.DataFrame:
    """The chart's rows: each group's interval, and the human-only one beside it when the
    judge's verdicts were combined with people's (to show how much narrower it is)."""
    records = []
    for name, v in groups(report):
        e = v.estimate
        label = "People and judge (PPI)" if e.method == "ppi" else "All verdicts (Wilson)"
        records.append(
            {
                "group": name,
                "estimate": label,
                "rate": e.rate,
                "low": e.ci_low,
                "high": e.ci_high,
                "judgements": v.judgements,
            }
        )
        if e.method == "ppi" and v.human_only is not None:
            low, high = v.human_only
            records.append(
                {
                    "group": name,
                    "estimate": "People alone (Wilson)",
                    "rate": v.human_rate,
                    "low": low,
                    "high": high,
                    "judgements": v.human,
                }
            )
    return pd.DataFrame(records, columns=INTERVAL_COLUMNS)


def latency_table(report: VerdictReport) -> pd.DataFrame:
    """Per model: answers, time to first token and total time, p50 and p95 (seconds)."""
    names = {"private": "Private model", "cloud": "ChatGPT"}
    return pd.DataFrame(
        [
            {
                "Model": names[model],
                "Answers": f["answers"],
                "First token p50 (s)": f["ttft_s"]["p50"],
                "First token p95 (s)": f["ttft_s"]["p95"],
                "Total p50 (s)": f["seconds"]["p50"],
                "Total p95 (s)": f["seconds"]["p95"],
            }
            for model, f in report.latency.items()
        ]
    )
