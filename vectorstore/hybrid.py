"""Reciprocal rank fusion of ranked result lists (dense and keyword)."""

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
