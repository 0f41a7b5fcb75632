"""Intervals, agreement and the non-inferiority decision, from scipy and scikit-learn.

A comparison's outcome, from the private model's side: ``private`` is a win, ``cloud`` a loss,
``tie`` and ``both_wrong`` are ties (when both answers are wrong, switching models loses
nothing). The quantity of interest is the **win-or-tie rate**: the share of comparisons in
which the private answer was at least as good as ChatGPT's.

The private model is *replaceable* at margin ``m`` when the whole 95% interval of that rate
lies at or above ``1 - m`` (ChatGPT better in at most ``m`` of the comparisons), *not
replaceable* when the whole interval lies below it, and otherwise there is *not enough
evidence*, with an estimate of how many more judgements would decide it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import binomtest, norm

Decision = Literal["replaceable", "not_replaceable", "not_enough_evidence"]
CONFIDENCE = 0.95
WINS = frozenset({"private"})
LOSSES = frozenset({"cloud"})
TIES = frozenset({"tie", "both_wrong"})
# Planning stops here: "more than this many" is the answer beyond it.
MAX_PLANNED = 1_000_000


def win_or_tie(verdict: str) -> int:
    """1 when the private answer was at least as good as ChatGPT's, else 0."""
    if verdict in WINS or verdict in TIES:
        return 1
    if verdict in LOSSES:
        return 0
    raise ValueError(f"unknown verdict {verdict!r}")


@dataclass(frozen=True)
class Counts:
    """Wins, ties and losses of the private model."""

    wins: int
    ties: int
    losses: int

    @property
    def n(self) -> int:
        """Comparisons counted."""
        return self.wins + self.ties + self.losses

    @property
    def successes(self) -> int:
        """Wins and ties."""
        return self.wins + self.ties

    @classmethod
    def of(cls, verdicts: Sequence[str]) -> Counts:
        """Count a list of verdicts (``private``, ``cloud``, ``tie``, ``both_wrong``)."""
        for verdict in verdicts:
            win_or_tie(verdict)  # rejects unknown ones
        return cls(
            wins=sum(v in WINS for v in verdicts),
            ties=sum(v in TIES for v in verdicts),
            losses=sum(v in LOSSES for v in verdicts),
        )


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion (scipy's ``binomtest(...).proportion_ci``).

    Returns ``(0.0, 1.0)`` when there is nothing to estimate from (``n == 0``).
    """
    if n == 0:
        return 0.0, 1.0
    ci = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def threshold(margin: float) -> float:
    """The win-or-tie rate the private model must reach: ``1 - margin``."""
    return 1.0 - margin


def decide(ci_low: float, ci_high: float, margin: float) -> Decision:
    """The non-inferiority decision from an interval of the win-or-tie rate.

    At the threshold itself the interval's bound counts as reaching it (``ci_low == 1 - m``
    is replaceable).
    """
    bar = threshold(margin)
    if ci_low >= bar:
        return "replaceable"
    if ci_high < bar:
        return "not_replaceable"
    return "not_enough_evidence"


def _first_deciding(
    rate: float, start: int, stop: int, bar: float, confidence: float
) -> int | None:
    """The smallest ``N`` in ``[start, stop)`` whose Wilson interval at ``round(rate * N)``
    successes is clear of ``bar`` (the Wilson formula over every ``N`` at once, with numpy)."""
    z2 = float(norm.ppf(0.5 + confidence / 2)) ** 2
    totals = np.arange(start, stop, dtype=float)
    p = np.round(rate * totals) / totals
    centre = (p + z2 / (2 * totals)) / (1 + z2 / totals)
    half = np.sqrt(z2) / (1 + z2 / totals) * np.sqrt(p * (1 - p) / totals + z2 / (4 * totals**2))
    clear = (centre - half >= bar - 1e-12) | (centre + half < bar)
    hits = np.flatnonzero(clear)
    return int(totals[hits[0]]) if hits.size else None


def more_needed(rate: float | None, n: int, margin: float, confidence: float = CONFIDENCE) -> int:
    """About how many more judgements would decide, if the observed rate held.

    The smallest total ``N > n`` whose Wilson interval, at the observed win-or-tie rate,
    lies wholly on one side of the threshold (the interval narrows as ``1/sqrt(N)``); the
    answer is ``N - n``. With no estimate yet (``n == 0``), or one exactly on the threshold
    (no number of judgements would then decide), the plan assumes a rate half a margin above
    the threshold. Capped at `MAX_PLANNED`.
    """
    bar = threshold(margin)
    if rate is None or n == 0 or abs(rate - bar) < 1e-9:
        rate = min(bar + margin / 2, 1.0)
    for start, stop in ((n + 1, n + 10_001), (n + 10_001, n + MAX_PLANNED + 1)):
        found = _first_deciding(rate, start, stop, bar, confidence)
        if found is not None:
            return found - n
    return MAX_PLANNED


@dataclass(frozen=True)
class Estimate:
    """A win-or-tie rate with its interval and the decision at the margin."""

    rate: float | None
    ci_low: float
    ci_high: float
    decision: Decision
    more_needed: int | None
    method: str


def estimate_from_counts(counts: Counts, margin: float) -> Estimate:
    """The Wilson interval of the win-or-tie rate and the decision."""
    low, high = wilson_interval(counts.successes, counts.n)
    rate = counts.successes / counts.n if counts.n else None
    return from_interval(rate, counts.n, low, high, margin, method="wilson")


def from_interval(
    rate: float | None, n: int, low: float, high: float, margin: float, *, method: str
) -> Estimate:
    """An `Estimate` from an interval: the decision, and the plan when undecided."""
    decision = decide(low, high, margin) if n else "not_enough_evidence"
    needed = more_needed(rate, n, margin) if decision == "not_enough_evidence" else None
    return Estimate(rate, low, high, decision, needed, method)


@dataclass(frozen=True)
class Agreement:
    """How often the judge and people gave the same verdict, and Cohen's kappa."""

    both_rated: int
    agreement: float | None
    kappa: float | None


def agreement(human: Sequence[str], judge: Sequence[str]) -> Agreement:
    """Raw agreement and Cohen's kappa (scikit-learn) over comparisons both rated.

    Kappa is ``None`` when it is undefined: no pairs, or both raters used one and the same
    verdict throughout (no variation to agree beyond chance on).
    """
    if len(human) != len(judge):
        raise ValueError("human and judge verdicts must pair up")
    n = len(human)
    if n == 0:
        return Agreement(0, None, None)
    same = sum(h == j for h, j in zip(human, judge, strict=True)) / n
    if len(set(human) | set(judge)) < 2:
        return Agreement(n, same, None)
    from sklearn.metrics import cohen_kappa_score

    kappa = float(cohen_kappa_score(list(human), list(judge)))
    return Agreement(n, same, None if math.isnan(kappa) else kappa)
