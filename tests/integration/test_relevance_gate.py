"""The two-signal relevance gate on a real index: SQuAD passages, the packaged embedder, FTS5.

Questions about names and rare words score low on cosine similarity and high on BM25: the
cosine-only gate refused them ("I could not find anything") although their passage ranks
first. Off-topic questions match neither signal and are still refused, without a model.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from kbchat.answerers import private_answerer
from kbchat.answering.relevance import RelevanceGate
from kbchat.answering.service import NOTHING_FOUND, Answerer
from kbchat.knowledge import run_ingest
from kbchat.settings import Settings
from tests.conftest import ROOT, make_settings

pytestmark = pytest.mark.integration


def _squad_corpus() -> Path | None:
    for base in (ROOT.parent, ROOT.parent.parent):
        found = base / "shared" / "eval" / "squad-dev" / "corpus"
        if found.is_dir():
            return found
    return None


SQUAD = _squad_corpus()
ARTICLES = ("Super_Bowl_50", "Chloroplast")
# (question, gold passage): both refused by the cosine-only gate on main.
RARE_WORDS = [
    ("Whose pass to Jerricho Cotchery was ruled incomplete?", "Super_Bowl_50__p046.md"),
    ("What does 'gram-negative' mean?", "Chloroplast__p003.md"),
]
OFF_TOPIC = ["How do I bake sourdough bread?", "Recommend a good science fiction novel."]


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory) -> Answerer:
    if SQUAD is None:
        pytest.skip("../shared/eval/squad-dev is not beside this checkout")
    tmp = tmp_path_factory.mktemp("squad")
    corpus = tmp / "corpus"
    corpus.mkdir()
    for article in ARTICLES:
        for passage in sorted(SQUAD.glob(f"{article}__p*.md")):
            shutil.copy(passage, corpus / passage.name)
    settings: Settings = make_settings(tmp, corpus)
    assert run_ingest(settings).failed == []
    built, _ = private_answerer(settings)  # building loads no model; none is called here
    return built


@pytest.mark.parametrize(("question", "gold"), RARE_WORDS)
def test_rare_name_with_low_cosine_and_strong_bm25_is_answered(
    answerer: Answerer, question: str, gold: str
) -> None:
    retrieval = answerer.retrieve(question)
    assert gold in [p.source for p in retrieval.passages]
    verdict = retrieval.verdict
    assert verdict is not None and verdict.best_cosine is not None
    assert verdict.best_cosine < answerer.gate.min_cosine  # dense alone would refuse...
    assert not RelevanceGate(answerer.gate.min_cosine, math.inf).judge(retrieval.hits).relevant
    assert retrieval.relevant and verdict.passed_by == "keyword"  # ...BM25 lets it through


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_question_is_still_refused_without_a_model(
    answerer: Answerer, question: str
) -> None:
    retrieval = answerer.retrieve(question)
    assert not retrieval.relevant
    answer = answerer.stream(retrieval).consume()
    assert answer.text == NOTHING_FOUND and not answer.answered_by_model
