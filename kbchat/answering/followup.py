"""Retrieval for follow-up questions ("and in Toronto?"), which do not stand alone.

Three strategies were measured on ``eval/followups.jsonl`` (``benchmarks/followups.py``;
figures in the README): the question alone, the question appended to the previous one, and
both searches fused by reciprocal rank fusion with the question alone first. Fusing wins: a
follow-up that depends on the earlier turn is found through the joined query, and a change of
topic is still found through the question alone. Rewriting the question with the model was
not adopted: it costs a full model call before retrieval (seconds on a CPU), and the fused
search already finds the right file for every follow-up in the set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from vectorstore.hybrid import reciprocal_rank_fusion
from vectorstore.index import KnowledgeIndex
from vectorstore.records import Filters, SearchHit

FollowupStrategy = Literal["alone", "joined", "fused"]
FOLLOWUP_STRATEGIES: tuple[FollowupStrategy, ...] = ("alone", "joined", "fused")


def joined_query(question: str, earlier_questions: Sequence[str]) -> str:
    """The previous question and this one, as one search query."""
    previous = earlier_questions[-1].strip() if earlier_questions else ""
    return f"{previous} {question.strip()}".strip()


def search_with_history(
    index: KnowledgeIndex,
    question: str,
    earlier_questions: Sequence[str],
    k: int,
    *,
    strategy: FollowupStrategy = "fused",
    filters: Filters | None = None,
    readable_by: Sequence[str] | None = None,
) -> list[SearchHit]:
    """Retrieve passages for a question asked after ``earlier_questions``.

    Args:
        index: the knowledge index.
        question: the user's latest question.
        earlier_questions: the user's earlier questions in this conversation, oldest first.
        k: passages wanted.
        strategy: ``alone``, ``joined`` or ``fused`` (see the module docstring).
        filters: metadata filters.
        readable_by: only passages readable by any of these groups, applied inside both
            retrievers of every search (`KnowledgeIndex.search`); ``None``: no filter.
    """
    if not earlier_questions or strategy == "alone":
        return index.search(question, k, filters=filters, readable_by=readable_by)
    joined = index.search(
        joined_query(question, earlier_questions), k, filters=filters, readable_by=readable_by
    )
    if strategy == "joined":
        return joined
    alone = index.search(question, k, filters=filters, readable_by=readable_by)
    by_id = {hit.chunk_id: hit for hit in [*joined, *alone]}
    fused = reciprocal_rank_fusion(
        [[h.chunk_id for h in alone], [h.chunk_id for h in joined]], k=index.rrf_k
    )
    return [by_id[cid] for cid, _score, _ranks in fused[:k]]
