from __future__ import annotations

import pytest

from vectorstore.hybrid import convex_combination, reciprocal_rank_fusion

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


def test_convex_combination_weighs_normalised_scores() -> None:
    dense = [("a", 0.9), ("b", 0.5), ("c", 0.1)]  # normalised 1, 0.5, 0
    keyword = [("c", 30.0), ("b", 20.0), ("d", 10.0)]  # normalised 1, 0.5, 0
    fused = convex_combination(dense, keyword, dense_weight=0.4)
    scores = {item: score for item, score, _ in fused}
    assert scores == pytest.approx({"a": 0.4, "b": 0.5, "c": 0.6, "d": 0.0})
    assert [item for item, _, _ in fused] == ["c", "b", "a", "d"]
    assert dict((i, r) for i, _, r in fused)["c"] == [3, 1]


def test_convex_combination_follows_its_weight() -> None:
    dense = [("a", 0.9), ("b", 0.2)]
    keyword = [("b", 12.0), ("a", 3.0)]
    assert convex_combination(dense, keyword, dense_weight=0.8)[0][0] == "a"
    assert convex_combination(dense, keyword, dense_weight=0.2)[0][0] == "b"
    assert [i for i, _, _ in convex_combination(dense, [], dense_weight=0.5)] == ["a", "b"]
    with pytest.raises(ValueError, match="between 0 and 1"):
        convex_combination(dense, keyword, dense_weight=1.5)
