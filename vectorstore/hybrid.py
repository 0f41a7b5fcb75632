"""Fusion of ranked result lists (dense and keyword): reciprocal rank fusion, convex combination."""

from __future__ import annotations

from collections.abc import Sequence


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], *, k: int = 60
) -> list[tuple[str, float, list[int | None]]]:
    """Fuse several rankings of ids into one.

    Each id scores ``sum(1 / (k + rank))`` over the rankings it appears in (rank 1-based).
    Ties are broken by the best single rank, then by the order of first appearance, so the
    result is deterministic.

    Args:
        rankings: lists of ids, best first.
        k: the fusion constant; larger values flatten the advantage of top ranks.

    Returns:
        ``(id, fused_score, ranks)`` best first, where ``ranks[i]`` is the id's 1-based rank
        in ``rankings[i]`` or ``None``.
    """
    ranks: dict[str, list[int | None]] = {}
    for which, ranking in enumerate(rankings):
        for position, item in enumerate(ranking, start=1):
            slot = ranks.setdefault(item, [None] * len(rankings))
            if slot[which] is None:
                slot[which] = position
    scored = [
        (item, sum(1.0 / (k + r) for r in item_ranks if r is not None), item_ranks)
        for item, item_ranks in ranks.items()
    ]
    order = {item: i for i, item in enumerate(ranks)}
    scored.sort(
        key=lambda entry: (
            -entry[1],
            min(r for r in entry[2] if r is not None),
            order[entry[0]],
        )
    )
    return scored


def _min_max(scores: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Scores rescaled to [0, 1] within one result list (all 1 when they are equal)."""
    if not scores:
        return {}
    low = min(s for _, s in scores)
    high = max(s for _, s in scores)
    span = high - low
    return {cid: (s - low) / span if span > 0 else 1.0 for cid, s in scores}


def convex_combination(
    dense: Sequence[tuple[str, float]],
    keyword: Sequence[tuple[str, float]],
    *,
    dense_weight: float = 0.5,
) -> list[tuple[str, float, list[int | None]]]:
    """Fuse dense and keyword results by a weighted sum of min-max normalised scores.

    Each list's scores are rescaled to [0, 1] over that list (its best result 1, its last 0);
    an id missing from a list gets 0 from it. Bruch et al. (2022, "An Analysis of Fusion
    Functions for Hybrid Retrieval") find a tuned combination of this kind ranks better than
    reciprocal rank fusion. Ties are broken as in `reciprocal_rank_fusion`.

    Args:
        dense: ``(id, cosine)`` best first.
        keyword: ``(id, bm25)`` best first (higher is better).
        dense_weight: weight of the dense side, between 0 and 1; keyword gets the rest.

    Returns:
        ``(id, fused_score, [dense_rank, keyword_rank])`` best first (ranks 1-based or None).
    """
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError(f"dense_weight must be between 0 and 1, not {dense_weight}")
    dense_norm, keyword_norm = _min_max(dense), _min_max(keyword)
    ranks: dict[str, list[int | None]] = {}
    for which, listing in enumerate((dense, keyword)):
        for position, (item, _) in enumerate(listing, start=1):
            slot = ranks.setdefault(item, [None, None])
            if slot[which] is None:
                slot[which] = position
    scored = [
        (
            item,
            dense_weight * dense_norm.get(item, 0.0)
            + (1.0 - dense_weight) * keyword_norm.get(item, 0.0),
            item_ranks,
        )
        for item, item_ranks in ranks.items()
    ]
    order = {item: i for i, item in enumerate(ranks)}
    scored.sort(
        key=lambda entry: (
            -entry[1],
            min(r for r in entry[2] if r is not None),
            order[entry[0]],
        )
    )
    return scored
