"""The verdict's figures out of the ledger: per topic and overall, agreement, cost, latency.

Each recorded comparison with both answers can carry a human verdict (the Compare page) and a
verdict of the configured judge model. Per group of comparisons (a topic, or all):

- ``wins``/``ties``/``losses`` count each comparison once, by its human verdict where there is
  one and otherwise the judge's;
- the win-or-tie rate and its 95% interval come from prediction-powered inference
  (`kbchat.verdict.ppi`) when at least `MIN_LABELLED` comparisons carry both verdicts and two
  or more carry only the judge's; otherwise from the Wilson interval of those counts;
- ``verdict`` and ``more_needed`` follow `kbchat.verdict.stats.decide` at the margin.

The shape is the ``kbchat report --json`` contract (README, "The verdict").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from kbchat.audit import AuditLog
from kbchat.judge_store import JudgeStore
from kbchat.ledger import Ledger
from kbchat.settings import Settings
from kbchat.verdict.ppi import MIN_LABELLED, ppi_mean
from kbchat.verdict.stats import (
    Counts,
    Estimate,
    agreement,
    estimate_from_counts,
    from_interval,
    threshold,
    wilson_interval,
    win_or_tie,
)

DAYS_PER_MONTH = 30
ROOT_TOPIC = "(root)"


def topic_at_depth(source: str | None, depth: int, fallback: str | None = None) -> str:
    """The topic of a comparison: the first ``depth`` folders of its best passage's path."""
    if not source:
        return fallback or "(unknown)"
    folders = source.split("/")[:-1]
    return "/".join(folders[:depth]) or ROOT_TOPIC


@dataclass(frozen=True)
class Rated:
    """One comparison's verdicts."""

    comparison_id: int
    topic: str
    human: str | None
    judge: str | None

    @property
    def label(self) -> str | None:
        """The verdict it counts with: the human one where there is one."""
        return self.human or self.judge


@dataclass
class GroupVerdict:
    """The verdict of one group of comparisons, and how it was reached."""

    judgements: int
    human: int
    judge: int
    counts: Counts
    estimate: Estimate
    human_only: tuple[float, float] | None = None
    human_rate: float | None = None

    def to_json(self) -> dict[str, Any]:
        """VERDICT of the ``kbchat report --json`` contract."""
        e = self.estimate
        return {
            "judgements": self.judgements,
            "human": self.human,
            "judge": self.judge,
            "wins": self.counts.wins,
            "ties": self.counts.ties,
            "losses": self.counts.losses,
            "win_or_tie": None if e.rate is None else round(e.rate, 4),
            "ci_low": round(e.ci_low, 4),
            "ci_high": round(e.ci_high, 4),
            "verdict": e.decision,
            "more_needed": e.more_needed,
        }


def group_verdict(rows: Sequence[Rated], margin: float) -> GroupVerdict:
    """The verdict of a group of comparisons (see the module docstring)."""
    labels = [r.label for r in rows if r.label]
    counts = Counts.of(labels)
    humans = [r for r in rows if r.human]
    pairs = [r for r in humans if r.judge]
    judge_only = [r for r in rows if r.judge and not r.human]
    if len(pairs) >= MIN_LABELLED and len(judge_only) >= 2:
        ppi = ppi_mean(
            [win_or_tie(r.human) for r in pairs if r.human],
            [win_or_tie(r.judge) for r in pairs if r.judge],
            [win_or_tie(r.judge) for r in judge_only if r.judge],
        )
        rate = min(1.0, max(0.0, ppi.estimate))
        estimate = from_interval(rate, len(labels), ppi.ci_low, ppi.ci_high, margin, method="ppi")
    else:
        estimate = estimate_from_counts(counts, margin)
    human_counts = Counts.of([r.human for r in humans if r.human])
    return GroupVerdict(
        judgements=len(labels),
        human=len(humans),
        judge=sum(1 for r in rows if r.judge),
        counts=counts,
        estimate=estimate,
        human_only=wilson_interval(human_counts.successes, human_counts.n) if humans else None,
        human_rate=human_counts.successes / human_counts.n if humans else None,
    )


def _percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    p50, p95 = np.percentile(np.asarray(values, dtype=float), [50, 95])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3)}


def latency(answers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Time to first token and total seconds, p50 and p95, per model (numpy percentiles)."""
    figures: dict[str, Any] = {}
    rows = list(answers)
    for backend in ("private", "cloud"):
        mine = [r for r in rows if r.get("backend") == backend]
        figures[backend] = {
            "answers": len(mine),
            "ttft_s": _percentiles(
                [float(r["ttft_s"]) for r in mine if r.get("ttft_s") is not None]
            ),
            "seconds": _percentiles(
                [float(r["seconds"]) for r in mine if r.get("seconds") is not None]
            ),
        }
    return figures


def _day(at: str) -> datetime:
    return datetime.fromisoformat(at)


def cost(
    answers: Sequence[Mapping[str, Any]], comparisons: int, judge_costs: Sequence[float]
) -> dict[str, Any]:
    """Cloud cost per answer, and per month if every question of the observed volume went to
    the cloud model.

    The volume is the questions recorded per day over the observed period (first to last
    answer, at least one day); a comparison's two answers are one question.
    """
    costed = [
        float(r["cost_usd"])
        for r in answers
        if r.get("backend") == "cloud" and r.get("cost_usd") is not None
    ]
    per_answer = float(np.mean(costed)) if costed else None
    questions = max(len(answers) - comparisons, 0)
    times = sorted(_day(str(r["at"])) for r in answers if r.get("at"))
    days = max((times[-1] - times[0]).total_seconds() / 86400, 1.0) if times else None
    per_day = questions / days if days else None
    per_month = (
        per_answer * per_day * DAYS_PER_MONTH
        if per_answer is not None and per_day is not None
        else None
    )
    return {
        "cloud_answers": len(costed),
        "per_answer_usd": None if per_answer is None else round(per_answer, 6),
        "questions": questions,
        "days": None if days is None else round(days, 2),
        "questions_per_day": None if per_day is None else round(per_day, 2),
        "per_month_usd": None if per_month is None else round(per_month, 2),
        "judge_calls": len(judge_costs),
        "judge_usd": round(sum(judge_costs), 6),
    }


@dataclass
class VerdictReport:
    """Everything the page and the report show."""

    margin: float
    judge_model: str
    overall: GroupVerdict
    topics: dict[str, GroupVerdict]
    agreement: dict[str, Any]
    cost: dict[str, Any]
    latency: dict[str, Any]
    rated: list[Rated] = field(default_factory=list)

    @property
    def threshold(self) -> float:
        """The win-or-tie rate the private model must reach."""
        return threshold(self.margin)

    def to_json(self) -> dict[str, Any]:
        """``kbchat report --json``: exactly the documented contract."""
        return {
            "margin": self.margin,
            "overall": self.overall.to_json(),
            "topics": [{"topic": t, **v.to_json()} for t, v in sorted(self.topics.items())],
            "agreement": self.agreement,
            "cost": self.cost,
            "latency": self.latency,
        }


def build_report(
    rows: Sequence[Rated],
    *,
    margin: float,
    judge_model: str,
    answers: Sequence[Mapping[str, Any]],
    comparisons: int,
    judge_costs: Sequence[float] = (),
) -> VerdictReport:
    """The report from already-read rows (the unit of `verdict_report`, tested directly)."""
    topics: dict[str, list[Rated]] = {}
    for row in rows:
        topics.setdefault(row.topic, []).append(row)
    pairs = [r for r in rows if r.human and r.judge]
    agreed = agreement([r.human or "" for r in pairs], [r.judge or "" for r in pairs])
    return VerdictReport(
        margin=margin,
        judge_model=judge_model,
        overall=group_verdict(rows, margin),
        topics={t: group_verdict(members, margin) for t, members in topics.items()},
        agreement={
            "both_rated": agreed.both_rated,
            "agreement": None if agreed.agreement is None else round(agreed.agreement, 4),
            "kappa": None if agreed.kappa is None else round(agreed.kappa, 4),
        },
        cost=cost(answers, comparisons, judge_costs),
        latency=latency(answers),
        rated=list(rows),
    )


ANSWERS_LIMIT = 100_000


def verdict_report(settings: Settings, ledger: Ledger, audit: AuditLog) -> VerdictReport:
    """The verdict report of the configured ledger and judge."""
    from kbchat.judge import JudgeEndpoint

    judge_model = JudgeEndpoint(settings).model_name
    depth = settings.verdict.verdict_topic_depth
    raw = JudgeStore(ledger).comparison_rows(judge_model)
    rows = [
        Rated(
            r["comparison_id"],
            topic_at_depth(r["best_source"], depth, r["topic"]),
            r["human"],
            r["judge"],
        )
        for r in raw
    ]
    answers = ledger.answers(ANSWERS_LIMIT)
    paired = ledger.database.read(
        "SELECT COUNT(*) FROM comparisons WHERE private_answer_id IS NOT NULL "
        "AND cloud_answer_id IS NOT NULL"
    )[0][0]
    judge_costs = [
        float(e.cost_usd)
        for e in audit.entries(ANSWERS_LIMIT, event="judge_call")
        if e.outcome == "ok" and e.cost_usd is not None
    ]
    return build_report(
        rows,
        margin=settings.verdict.verdict_margin,
        judge_model=judge_model,
        answers=answers,
        comparisons=int(paired),
        judge_costs=judge_costs,
    )
