"""Context compression end to end: a real index, the packaged embedder and SmolLM2.

The model reads fewer prompt tokens; the answer's passages, citations and the evidence panel
keep the whole passages, numbered as retrieved.
"""

from __future__ import annotations

import pytest

from kbchat.answerers import private_answerer
from kbchat.answering.service import Answerer
from kbchat.knowledge import run_ingest
from kbchat.settings import RetrievalSettings, Settings
from tests.conftest import CORPUS, make_settings

pytestmark = pytest.mark.integration

QUESTION = "How many days of paid holiday do I get each year, not counting bank holidays?"


def _answerer(settings: Settings, *, compress: bool) -> Answerer:
    settings.retrieval = RetrievalSettings(_env_file=None, compress_context=compress)  # type: ignore[call-arg]
    built, _ = private_answerer(settings)
    return built


def test_compressed_prompt_is_shorter_and_citations_stay_whole(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp = tmp_path_factory.mktemp("compress")
    settings = make_settings(
        tmp,
        CORPUS,
        local={"local_n_ctx": 2048},
        generation={"max_answer_tokens": 24, "temperature": 0.0},
    )
    assert run_ingest(settings).failed == []
    whole = _answerer(settings, compress=False)
    squeezed = _answerer(settings, compress=True)
    assert squeezed.compressor is not None and whole.compressor is None
    retrieval = whole.retrieve(QUESTION)
    assert retrieval.relevant and len(retrieval.passages) == 5

    plain = whole.stream(retrieval).consume()
    short = squeezed.stream(retrieval).consume()
    assert plain.stats is not None and short.stats is not None
    assert short.stats.tokens_in < plain.stats.tokens_in
    # What the answer keeps, shows and cites is the whole passages, numbered as retrieved.
    texts = [p.hit.text for p in retrieval.passages]
    assert [p.hit.text for p in short.passages] == texts
    assert [p.n for p in short.passages] == [1, 2, 3, 4, 5]
    assert any(p.excerpt is not None for p in short.passages)
    for citation in short.citations:
        assert citation.text == texts[citation.n - 1]
