from __future__ import annotations

from pathlib import Path

import pytest

from kbchat.answering.citations import Citation
from kbchat.answering.service import Answer
from kbchat.ledger import Ledger
from kbchat.llm.base import GenerationStats

pytestmark = pytest.mark.unit


def _answer() -> Answer:
    answer = Answer(backend="private", model="SmolLM2", text="27 days [1].", fallback=True)
    answer.stats = GenerationStats("SmolLM2", 800, 6, 0.4, 0.9, 0.0)
    answer.citations = [Citation(1, "id1", "hr/leave.md", None, None, "27 days.")]
    return answer


def test_answers_and_thumbs_are_stored(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    first = ledger.record_answer("How much leave?", _answer(), session="s1", retrieval_s=0.02)
    second = ledger.record_answer("And carry over?", _answer(), session="s1")
    assert second == first + 1
    ledger.record_feedback(first, 1)
    ledger.record_feedback(first, -1, "wrong number")  # a change of mind replaces the rating
    rows = ledger.feedback()
    assert [(r.answer_id, r.rating, r.comment) for r in rows] == [(first, -1, "wrong number")]
    recent = ledger.answers()
    assert [r["question"] for r in recent] == ["And carry over?", "How much leave?"]
    assert recent[1]["rating"] == -1 and recent[0]["rating"] is None
    assert recent[1]["ttft_s"] == 0.4 and recent[1]["fallback"] == 1
    assert recent[1]["cited"] == '["hr/leave.md"]'
    reopened = Ledger(tmp_path / "ledger.sqlite3")
    assert len(reopened.answers()) == 2


def test_bad_feedback_is_refused(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    answer_id = ledger.record_answer("q", _answer())
    with pytest.raises(ValueError, match="rating"):
        ledger.record_feedback(answer_id, 0)
    with pytest.raises(ValueError, match="no answer"):
        ledger.record_feedback(answer_id + 99, 1)
