"""The relevance gate's two signals: dense cosine and BM25 over enough of the question's terms."""

from __future__ import annotations

import math

import pytest

from kbchat.answering.relevance import RelevanceGate
from vectorstore.records import SearchHit

pytestmark = pytest.mark.unit

GATE = RelevanceGate(min_cosine=0.3, min_keyword=5.4, min_coverage=0.5)


def _hit(
    cosine: float | None, bm25: float | None = None, coverage: float | None = None
) -> SearchHit:
    return SearchHit("id", "text", {}, 1.0, dense_score=cosine, keyword_score=bm25,
                     keyword_coverage=coverage)  # fmt: skip


def test_a_close_cosine_passes_on_its_own() -> None:
    verdict = GATE.judge([_hit(0.1), _hit(0.45)])
    assert verdict.relevant and verdict.passed_by == "dense" and verdict.best_cosine == 0.45


def test_a_rare_name_with_low_cosine_and_strong_bm25_passes_by_keyword() -> None:
    # "What does Kitab Rudjdjar mean?": the passage holds both names, cosine stays low.
    hits = [_hit(0.19, 18.4, 2 / 3), _hit(0.12, 4.0, 1 / 3)]
    verdict = GATE.judge(hits)
    assert verdict.relevant and verdict.passed_by == "keyword"
    assert verdict.best_keyword == 18.4
    assert not RelevanceGate(0.3, math.inf).judge(hits).relevant  # cosine alone refuses it


def test_off_topic_with_both_signals_weak_is_refused() -> None:
    verdict = GATE.judge([_hit(0.21, 4.3, 0.5), _hit(0.15, 2.0, 0.25)])
    assert not verdict.relevant and verdict.passed_by is None


def test_bm25_from_one_word_of_a_long_question_does_not_pass() -> None:
    # A word that happens to be rare in the corpus scores high BM25 but is 1 of 5 terms.
    verdict = GATE.judge([_hit(0.09, 10.3, 0.2)])
    assert not verdict.relevant and verdict.best_keyword is None


def test_both_thresholds_are_inclusive_and_each_is_needed() -> None:
    assert GATE.judge([_hit(0.3)]).relevant
    assert GATE.judge([_hit(0.1, 5.4, 0.5)]).relevant
    assert not GATE.judge([_hit(0.1, 5.39, 1.0)]).relevant
    assert not GATE.judge([_hit(0.1, 40.0, 0.49)]).relevant


def test_nothing_retrieved_is_refused_and_unscored_hits_pass() -> None:
    assert not GATE.judge([]).relevant
    verdict = GATE.judge([_hit(None)])
    assert verdict.relevant and verdict.passed_by == "unscored"
