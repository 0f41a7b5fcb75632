"""The relevance gate: is anything retrieved about the question at all?

A question whose passages are not about it is answered "nothing found" without calling a
model. Two signals decide, and the question is refused only when both are weak:

- dense: the best passage's cosine similarity to the question. It recognises paraphrase but
  scores names and rare words low ("What does Kitab Rudjdjar mean?" scores under 0.3);
- keyword: a passage that holds at least half of the question's search terms with a BM25
  score at or above a threshold. BM25 is high exactly when rare words of the question occur
  in the passage; the share of terms keeps a single common word ("world", "best") that
  happens to be rare in a small corpus from passing an off-topic question.

The thresholds were tuned on the SQuAD development set and the sample corpus with its
off-topic questions (``benchmarks/retrieval_variants.py``; figures in the README).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from vectorstore.records import SearchHit

PassedBy = Literal["dense", "keyword", "unscored"]


@dataclass(frozen=True)
class RelevanceVerdict:
    """The gate's decision on one retrieval, with the signals it read.

    Attributes:
        relevant: whether the passages are taken to be about the question.
        best_cosine: the highest cosine similarity among the passages (``None``: unknown).
        best_keyword: the highest BM25 score among passages holding enough of the question's
            terms (``None``: no such passage).
        passed_by: the signal that let the question through, or ``None`` when refused.
    """

    relevant: bool
    best_cosine: float | None
    best_keyword: float | None
    passed_by: PassedBy | None


@dataclass(frozen=True)
class RelevanceGate:
    """Refuse a retrieval only when both its dense and its keyword signal are weak.

    Args:
        min_cosine: cosine similarity at or above which a passage is relevant.
        min_keyword: BM25 score at or above which a passage holding at least
            ``min_coverage`` of the question's terms is relevant.
        min_coverage: share of the question's search terms such a passage must hold.
    """

    min_cosine: float = 0.3
    min_keyword: float = 5.4
    min_coverage: float = 0.5

    def judge(self, hits: Sequence[SearchHit]) -> RelevanceVerdict:
        """Decide on the passages retrieved for one question (best first)."""
        cosine = max((h.dense_score for h in hits if h.dense_score is not None), default=None)
        keyword = max(
            (
                h.keyword_score
                for h in hits
                if h.keyword_score is not None
                and h.keyword_coverage is not None
                and h.keyword_coverage >= self.min_coverage
            ),
            default=None,
        )
        if not hits:
            return RelevanceVerdict(False, cosine, keyword, None)
        if cosine is not None and cosine >= self.min_cosine:
            return RelevanceVerdict(True, cosine, keyword, "dense")
        if keyword is not None and keyword >= self.min_keyword:
            return RelevanceVerdict(True, cosine, keyword, "keyword")
        if cosine is None and all(h.keyword_score is None for h in hits):
            # Scored by neither signal (e.g. another index's hits): nothing to refuse on.
            return RelevanceVerdict(True, cosine, keyword, "unscored")
        return RelevanceVerdict(False, cosine, keyword, None)
