"""Reporting for the Quality page: verdict shares and win rates, over time and by topic.

It sums up what the quality ledger holds (people's and the judge's verdicts); it sits above
answering. Each answer's own scores (groundedness, agreement) are `kbchat.answering.scoring`,
the evaluation set's metrics `kbchat.evaluation.metrics`; `app/quality*.py` only show them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from kbchat.ledger import VERDICTS

GroupBy = Literal["day", "topic"]


def win_rates(judgements: Iterable[Mapping[str, Any]], by: GroupBy) -> list[dict[str, Any]]:
    """Share of each verdict per day or per topic (the source folder of the best passage).

    Returns:
        One row per group, sorted by group: ``group``, ``judged``, a count per verdict, and
        ``private_win_rate`` / ``cloud_win_rate`` (wins over judged comparisons).
    """
    groups: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(VERDICTS, 0))
    for row in judgements:
        key = str(row.get(by) or "(unknown)")
        groups[key][str(row["verdict"])] += 1
    table = []
    for key in sorted(groups):
        counts = groups[key]
        judged = sum(counts.values())
        table.append(
            {
                "group": key,
                "judged": judged,
                **counts,
                "private_win_rate": counts["private"] / judged,
                "cloud_win_rate": counts["cloud"] / judged,
            }
        )
    return table


def overall(judgements: Sequence[Mapping[str, Any]]) -> dict[str, float | int]:
    """Verdict shares over every judgement."""
    total = len(judgements)
    counts = {v: sum(1 for j in judgements if j["verdict"] == v) for v in VERDICTS}
    return {
        "judged": total,
        **{f"{v}_rate": (counts[v] / total if total else 0.0) for v in VERDICTS},
    }
