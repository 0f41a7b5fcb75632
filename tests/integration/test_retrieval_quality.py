"""Retrieval quality on the sample corpus with its evaluation set."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbchat.evaluation import load_eval_set, score_retrieval
from kbchat.knowledge import index_for
from tests.conftest import CORPUS, EVAL_SET

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sample_index(sample_settings):  # type: ignore[no-untyped-def]
    return index_for(sample_settings)


def test_eval_set_is_well_formed() -> None:
    questions = load_eval_set(EVAL_SET)
    assert len(questions) >= 30
    for q in questions:
        for source in q.gold_files:
            assert (CORPUS / source).is_file(), f"{q.question!r}: gold file {source} is missing"
        assert q.unanswerable == (not q.gold_files)


@pytest.mark.parametrize(("mode", "floor"), [("hybrid", 0.9), ("dense", 0.8), ("keyword", 0.8)])
def test_recall_at_5(sample_index, mode: str, floor: float) -> None:  # type: ignore[no-untyped-def]
    questions = load_eval_set(EVAL_SET)
    summary = score_retrieval(
        questions,
        lambda q: [str(h.metadata["source"]) for h in sample_index.search(q, 5, mode=mode)],
        5,
    )
    misses = [(r.question, r.gold_files, r.retrieved) for r in summary.rows if not r.hit]
    assert summary.recall_at_k >= floor, misses
    assert summary.mrr > 0.5


def test_filters_apply_to_both_retrievers(sample_index) -> None:  # type: ignore[no-untyped-def]
    hits = sample_index.search(
        "salary band for a senior engineer", 5, filters={"sensitivity": "confidential"}
    )
    assert hits and all(h.metadata["sensitivity"] == "confidential" for h in hits)
    hits = sample_index.search("salary band", 10, filters={"sensitivity": ["public", "internal"]})
    assert all(not str(h.metadata["source"]).startswith("hr/private/") for h in hits)
    hits = sample_index.search("VPN", 5, filters={"folder": "it"})
    assert hits and all(str(h.metadata["source"]).startswith("it/") for h in hits)


def test_eval_loader_reports_bad_lines(tmp_path: Path) -> None:
    from kbchat.errors import KbchatError

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\n{"gold_files": []}\n')
    with pytest.raises(KbchatError, match="line 2"):
        load_eval_set(bad)
