"""What a run found: the worst questions, ranked by how bad, each with why."""

from __future__ import annotations

import pytest

from kbchat.evaluation.findings import model_table, retrieval_table, worst_questions
from tests.unit.test_eval_metrics import build_run

pytestmark = pytest.mark.unit


def test_worst_questions_are_ranked_by_how_bad() -> None:
    worst = worst_questions(build_run())
    # 3: retrieval miss (4) + private false refusal (3) = 7; 6: private answered an
    # unanswerable question (5) + groundedness 0 (1) = 6; 1: cloud failed (2); 2: private
    # missed a key phrase (2). 4 and 5 went well.
    assert [w.row.number for w in worst] == [3, 6, 1, 2]
    assert [w.score for w in worst] == pytest.approx([7, 6, 2, 2])
    assert worst[0].reasons == (
        "retrieval: no passage from travel/per_diem.csv",
        "private: refused a question the documents answer",
    )
    assert "private: key phrases missing: 'browser'" in worst[3].reasons
    assert worst_questions(build_run(), limit=2) == worst[:2]


def test_figures_retrieval_once_and_one_column_per_model() -> None:
    retrieval = dict(retrieval_table(build_run()))
    assert retrieval["Recall@5"] == "0.750 (3/4)"
    assert retrieval["R@1"] == "0.250 (1/4)"
    header, rows = model_table(build_run())
    assert header == ["", "Private model", "Cloud model"]
    by_label = {row[0]: row[1:] for row in rows}
    assert by_label["Key phrases all found"] == ["50.0% (2/4)", "100.0% (2/2)"]
    assert by_label["Failed"] == ["0", "1"]
    assert by_label["Not asked (policy gate)"] == ["0", "1"]
