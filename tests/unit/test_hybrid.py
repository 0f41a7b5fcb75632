from __future__ import annotations

import pytest

from vectorstore.hybrid import reciprocal_rank_fusion

pytestmark = pytest.mark.unit


def test_fusion_rewards_agreement_between_rankings() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]], k=60)
    ids = [item for item, _, _ in fused]
    assert ids[0] == "a"  # ranks 1 and 2
    assert ids[1] == "c"  # ranks 3 and 1
    assert set(ids) == {"a", "b", "c", "d"}
    score_a = fused[0][1]
    assert score_a == pytest.approx(1 / 61 + 1 / 62)
    assert fused[0][2] == [1, 2]
    assert dict((i, r) for i, _, r in fused)["d"] == [None, 3]


def test_fusion_is_deterministic_on_ties() -> None:
    first = reciprocal_rank_fusion([["x", "y"], ["y", "x"]])
    again = reciprocal_rank_fusion([["x", "y"], ["y", "x"]])
    assert first == again
    assert [i for i, _, _ in first] == ["x", "y"]


def test_fusion_of_nothing_is_empty() -> None:
    assert reciprocal_rank_fusion([[], []]) == []


def test_duplicate_in_one_ranking_counts_once_at_its_best_rank() -> None:
    fused = reciprocal_rank_fusion([["a", "a", "b"]], k=1)
    assert fused[0] == ("a", pytest.approx(1 / 2), [1])
