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


def _comparison(question: str, verdict_topic: str = "hr/leave.md"):  # type: ignore[no-untyped-def]
    from kbchat.answering.prompt import Passage
    from kbchat.answering.service import Retrieval
    from kbchat.compare import Comparison
    from vectorstore.records import SearchHit

    passage = Passage(1, SearchHit("id1", "27 days.", {"source": verdict_topic}, 1.0))
    private = _answer()
    private.passages = [passage]
    private.groundedness = 1.0
    cloud = Answer(backend="cloud", model="gpt", text="27 days [1].", cost_usd=0.0001)
    cloud.stats = GenerationStats("gpt", 700, 5, 0.3, 0.6, 0.0)
    cloud.passages = [passage]
    cloud.groundedness = 0.5
    return Comparison(question, Retrieval(question, [passage], True, 0.01), private, cloud,
                      agreement=0.8, wall_s=1.2)  # fmt: skip


def test_comparisons_and_judgements_feed_win_rates(tmp_path: Path) -> None:
    from kbchat.csv_export import to_csv
    from kbchat.quality_report import overall, win_rates

    ledger = Ledger(tmp_path / "ledger.sqlite3")
    first = ledger.record_comparison(_comparison("How much leave?"), session="s")
    second = ledger.record_comparison(_comparison("VPN?", "it/vpn.md"), session="s")
    third = ledger.record_comparison(_comparison("Carry over?"), session="s")
    ledger.record_judgement(first, "cloud")
    ledger.record_judgement(first, "private", "changed my mind")  # replaces
    ledger.record_judgement(second, "tie")
    ledger.record_judgement(third, "private")
    with pytest.raises(ValueError, match="verdict"):
        ledger.record_judgement(first, "draw")
    with pytest.raises(ValueError, match="no comparison"):
        ledger.record_judgement(999, "tie")
    rows = ledger.judgements()
    assert [r["verdict"] for r in rows] == ["private", "tie", "private"]
    assert rows[0]["comment"] == "changed my mind" and rows[0]["topic"] == "hr"
    assert rows[0]["private_groundedness"] == 1.0 and rows[0]["cloud_groundedness"] == 0.5
    by_topic = {r["group"]: r for r in win_rates(rows, "topic")}
    assert by_topic["hr"]["private_win_rate"] == 1.0 and by_topic["it"]["tie"] == 1
    assert overall(rows)["private_rate"] == pytest.approx(2 / 3)
    assert len(ledger.answers(backend="cloud")) == 3
    assert ledger.answers(backend="cloud")[0]["cost_usd"] == 0.0001
    assert to_csv(rows).decode("utf-8-sig").splitlines()[0].startswith("judged_at,day,question")
    assert b"'=SUM(A1)" in to_csv([{"question": "=SUM(A1)"}])


def test_an_old_ledger_file_gains_the_new_columns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE answers (id INTEGER PRIMARY KEY, at TEXT NOT NULL, session TEXT, "
            "question TEXT NOT NULL, backend TEXT NOT NULL, model TEXT NOT NULL, fallback "
            "INTEGER NOT NULL, answer TEXT NOT NULL, sources TEXT NOT NULL, cited TEXT NOT NULL, "
            "ttft_s REAL, seconds REAL, tokens_in INTEGER, tokens_out INTEGER, retrieval_s REAL)"
        )
    ledger = Ledger(path)
    assert ledger.record_answer("q", _answer()) == 1
