"""Prediction-powered inference of a mean: many judge verdicts, corrected by a few human ones.

Angelopoulos, Bates, Fannjiang, Jordan and Zrnic, "Prediction-powered inference", Science 382
(2023), arXiv:2301.09633; applied to model evaluation by Boyeau, Angelopoulos, Yosef, Malik and
Jordan, "AutoEval Done Right: Using Synthetic Data for Model Evaluation", arXiv:2403.07008.

With ``n`` comparisons rated by people (``y``, 0/1) and by the judge (``f``, 0/1), and ``N``
more rated by the judge alone (``f_u``), the estimate of the mean of ``y`` is

    theta = mean(f_u) - mean(f - y)

(the judge's mean, minus its measured bias, the *rectifier*). Its central-limit interval is
``theta ± z * sqrt(var(f_u) / N + var(f - y) / n)`` (sample variances), valid whatever the
judge's quality: a judge that agrees with people shrinks ``var(f - y)`` and the interval; a
poor judge only widens it. The guarantee assumes the human-rated comparisons are a random
sample of all of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from kbchat.verdict.stats import CONFIDENCE

MIN_LABELLED = 10  # fewer human-and-judge pairs give too rough a variance of the rectifier


@dataclass(frozen=True)
class PpiEstimate:
    """The prediction-powered estimate of a mean and its interval (clipped to [0, 1])."""

    estimate: float
    ci_low: float
    ci_high: float
    rectifier: float
    labelled: int
    unlabelled: int


def ppi_mean(
    human: Sequence[float],
    judge_on_human: Sequence[float],
    judge_only: Sequence[float],
    confidence: float = CONFIDENCE,
) -> PpiEstimate:
    """The prediction-powered estimate of the mean of ``human`` over every comparison.

    Args:
        human: people's outcomes on the labelled comparisons.
        judge_on_human: the judge's outcomes on the same comparisons, in the same order.
        judge_only: the judge's outcomes on the comparisons people did not rate.
        confidence: interval coverage.

    Raises:
        ValueError: the labelled lists differ in length, or either set has fewer than two
            comparisons (no variance to estimate).
    """
    y = np.asarray(human, dtype=float)
    f = np.asarray(judge_on_human, dtype=float)
    f_u = np.asarray(judge_only, dtype=float)
    if y.shape != f.shape:
        raise ValueError("human and judge outcomes on the labelled set must pair up")
    n, big_n = len(y), len(f_u)
    if n < 2 or big_n < 2:
        raise ValueError("prediction-powered inference needs two or more of each set")
    rectifier = float(np.mean(f - y))
    theta = float(np.mean(f_u)) - rectifier
    variance = float(np.var(f_u, ddof=1)) / big_n + float(np.var(f - y, ddof=1)) / n
    z = float(norm.ppf(0.5 + confidence / 2))
    half = z * math.sqrt(variance)
    return PpiEstimate(
        estimate=theta,
        ci_low=max(0.0, theta - half),
        ci_high=min(1.0, theta + half),
        rectifier=rectifier,
        labelled=n,
        unlabelled=big_n,
    )
