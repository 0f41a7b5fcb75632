"""The verdict's statistics against values worked out by hand and against the libraries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest, norm
from sklearn.metrics import cohen_kappa_score

from kbchat.verdict.ppi import ppi_mean
from kbchat.verdict.stats import (
    Counts,
    agreement,
    decide,
    estimate_from_counts,
    more_needed,
    wilson_interval,
    win_or_tie,
)

pytestmark = pytest.mark.unit
Z = 1.959963984540054  # the 97.5% normal quantile


def _wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(8, 10), (0, 5), (12, 12), (37, 50), (1, 1)])
def test_wilson_interval_matches_the_formula_and_scipy(k: int, n: int) -> None:
    low, high = wilson_interval(k, n)
    assert (low, high) == pytest.approx(_wilson_by_hand(k, n), abs=1e-9)
    ci = binomtest(k, n).proportion_ci(method="wilson")
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_interval_of_8_in_10_is_the_textbook_value() -> None:
    low, high = wilson_interval(8, 10)
    assert round(low, 4) == 0.4902 and round(high, 4) == 0.9433
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_outcomes_count_ties_and_both_wrong_as_not_worse() -> None:
    counts = Counts.of(["private", "cloud", "tie", "both_wrong", "private"])
    assert (counts.wins, counts.ties, counts.losses, counts.n) == (2, 2, 1, 5)
    assert [win_or_tie(v) for v in ("private", "tie", "both_wrong", "cloud")] == [1, 1, 1, 0]
    with pytest.raises(ValueError, match="unknown verdict"):
        Counts.of(["draw"])


def test_kappa_by_hand_and_by_scikit_learn() -> None:
    human = ["private", "private", "cloud", "tie", "cloud", "private"]
    judge = ["private", "cloud", "cloud", "tie", "private", "private"]
    result = agreement(human, judge)
    # observed 4/6; chance (3*3 + 2*2 + 1*1) / 36 = 14/36; kappa = (24 - 14) / (36 - 14)
    assert result.both_rated == 6
    assert result.agreement == pytest.approx(4 / 6)
    assert result.kappa == pytest.approx(10 / 22)
    assert result.kappa == pytest.approx(cohen_kappa_score(human, judge))


def test_kappa_is_undefined_without_variation_or_pairs() -> None:
    assert agreement(["tie", "tie"], ["tie", "tie"]).kappa is None
    assert agreement(["tie", "tie"], ["tie", "tie"]).agreement == 1.0
    assert agreement([], []) == agreement([], [])
    assert agreement([], []).both_rated == 0 and agreement([], []).kappa is None
    with pytest.raises(ValueError, match="pair up"):
        agreement(["tie"], [])


def test_the_decision_at_the_margins_edge() -> None:
    # margin 5 points: the win-or-tie rate must reach 0.95
    assert decide(0.95, 0.99, 0.05) == "replaceable"
    assert decide(0.9499, 0.99, 0.05) == "not_enough_evidence"
    assert decide(0.80, 0.9499, 0.05) == "not_replaceable"
    assert decide(0.80, 0.95, 0.05) == "not_enough_evidence"
    assert decide(0.85, 0.95, 0.20) == "replaceable"  # the margin is configurable


def test_all_wins_decide_exactly_when_the_wilson_bound_reaches_the_bar() -> None:
    # With every comparison won, Wilson's lower bound is n / (n + z^2): it reaches 0.95 first
    # at n = 73 (72.99 by hand), so 72 wins are not yet enough and 73 are.
    assert 72 / (72 + Z**2) < 0.95 <= 73 / (73 + Z**2)
    at_72 = estimate_from_counts(Counts(72, 0, 0), 0.05)
    at_73 = estimate_from_counts(Counts(73, 0, 0), 0.05)
    assert at_72.decision == "not_enough_evidence" and at_72.more_needed == 1
    assert at_73.decision == "replaceable" and at_73.more_needed is None
    clearly_worse = estimate_from_counts(Counts(3, 3, 14), 0.05)
    assert clearly_worse.decision == "not_replaceable" and clearly_worse.more_needed is None


@pytest.mark.parametrize(("successes", "n"), [(18, 20), (46, 50), (9, 10), (29, 30)])
def test_more_needed_is_the_smallest_total_that_decides_at_the_observed_rate(
    successes: int, n: int
) -> None:
    rate = successes / n
    needed = more_needed(rate, n, 0.05)
    total = n + 1
    while True:  # brute force, straight from scipy
        ci = binomtest(round(rate * total), total).proportion_ci(method="wilson")
        if ci.low >= 0.95 or ci.high < 0.95:
            break
        total += 1
    assert needed == total - n


def test_more_needed_without_judgements_plans_half_a_margin_above_the_bar() -> None:
    empty = estimate_from_counts(Counts(0, 0, 0), 0.05)
    assert empty.decision == "not_enough_evidence" and empty.rate is None
    assert (empty.ci_low, empty.ci_high) == (0.0, 1.0)
    assert empty.more_needed == more_needed(0.975, 0, 0.05) > 1


def test_ppi_on_a_small_set_worked_by_hand() -> None:
    human = [1, 1, 0, 1, 0, 1, 1, 1, 0, 1]
    judge = [1, 1, 1, 1, 0, 1, 1, 1, 1, 1]  # says "not worse" twice where people said worse
    judge_only = [1] * 16 + [0] * 4
    result = ppi_mean(human, judge, judge_only)
    # theta = mean(f_u) - mean(f - y) = 0.8 - 0.2
    assert result.estimate == pytest.approx(0.6)
    assert result.rectifier == pytest.approx(0.2)
    # var(f_u)/N + var(f - y)/n with sample variances: 0.8*0.2*20/19/20 + 0.2*0.8*10/9/10
    half = Z * math.sqrt(0.8 * 0.2 / 19 + 0.2 * 0.8 / 9)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.6 - half, 0.6 + half))
    assert (result.labelled, result.unlabelled) == (10, 20)
    with pytest.raises(ValueError, match="pair up"):
        ppi_mean([1, 0], [1], [1, 1])
    with pytest.raises(ValueError, match="two or more"):
        ppi_mean([1], [1], [1, 1])


def test_ppi_covers_the_known_mean_where_the_judge_alone_does_not() -> None:
    """A judge that overstates the private model by ~15 points, on sets whose true
    win-or-tie rate is 0.7 by construction: PPI's 95% interval covers 0.7 about 95% of the
    time and is narrower than the Wilson interval of the human verdicts alone; the judge's
    own interval almost never covers it."""
    rng = np.random.default_rng(20231)
    truth, n, big_n, reps = 0.7, 40, 400, 400
    covered = judge_covered = 0
    ppi_widths, human_widths = [], []
    for _ in range(reps):
        y_all = rng.random(n + big_n) < truth
        flips = rng.random(n + big_n) < 0.5  # the judge turns half the losses into ties
        f_all = y_all | flips
        y, f, f_u = y_all[:n], f_all[:n], f_all[n:]
        result = ppi_mean(y, f, f_u)
        covered += result.ci_low <= truth <= result.ci_high
        ppi_widths.append(result.ci_high - result.ci_low)
        low, high = wilson_interval(int(y.sum()), n)
        human_widths.append(high - low)
        j_low, j_high = wilson_interval(int(f_u.sum()), big_n)
        judge_covered += j_low <= truth <= j_high
    assert 0.91 <= covered / reps <= 0.99
    assert judge_covered / reps < 0.05
    assert np.mean(ppi_widths) < np.mean(human_widths)


def test_ppi_interval_uses_the_normal_quantile() -> None:
    wide = ppi_mean([1, 0] * 10, [1, 0] * 10, [1, 0] * 50, confidence=0.99)
    narrow = ppi_mean([1, 0] * 10, [1, 0] * 10, [1, 0] * 50, confidence=0.95)
    ratio = (wide.ci_high - wide.ci_low) / (narrow.ci_high - narrow.ci_low)
    assert ratio == pytest.approx(norm.ppf(0.995) / norm.ppf(0.975))
