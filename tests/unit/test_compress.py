"""Context compression: which sentences a passage keeps, and that citations stay whole."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from kbchat.answering.citations import map_citations
from kbchat.answering.compress import ELLIPSIS, ContextCompressor, split_sentences
from kbchat.answering.prompt import NO_PASSAGES_NOTE, Passage, build_messages
from kbchat.answering.service import Answerer, Retrieval
from kbchat.settings import RetrievalSettings
from tests.unit.test_answering import WordCountBackend
from vectorstore import SentenceTransformerEmbedder
from vectorstore.records import SearchHit

pytestmark = pytest.mark.unit

FIRST = (
    "Super Bowl 50 was an American football game to determine the champion of the NFL for "
    "the 2015 season. The Denver Broncos defeated the Carolina Panthers 24 to 10 to earn "
    "their third Super Bowl title. The game was played on February 7, 2016."
)
STADIUM = (
    "On May 21, 2013, NFL owners at their spring meetings in Boston voted and awarded the "
    "game to a new venue in Santa Clara. The venue is called Levi's Stadium. It opened in "
    "2014 at a cost of 1.2 billion dollars. The Bay Area last hosted the game in 1985, and "
    "California last hosted it in San Diego in 2003. Ticket prices rose sharply that year "
    "and hotels in the city were fully booked for the whole week of the game."
)
HALFTIME = (
    "The halftime show was headlined by the British rock group Coldplay. Beyonce and Bruno "
    "Mars, who had headlined earlier shows, joined them on stage. The show was watched by "
    "more viewers than the game itself in several markets, according to the network."
)


def _passages() -> list[Passage]:
    texts = [FIRST, STADIUM, HALFTIME]
    return [
        Passage(n, SearchHit(f"id{n}", text, {"source": f"sb/p{n}.md"}, 1.0 / n))
        for n, text in enumerate(texts, start=1)
    ]


@pytest.fixture(scope="module")
def compressor(embedder: SentenceTransformerEmbedder) -> ContextCompressor:
    return ContextCompressor(embedder, keep=0.1, whole_top=1)


def test_sentences_split_at_ends_and_lines() -> None:
    assert split_sentences("It opened in 2014. The cost was $1.2 billion!\nRow: a, b") == [
        "It opened in 2014.",
        "The cost was $1.2 billion!",
        "Row: a, b",
    ]
    assert split_sentences("Version 4.2 shipped. 30% off.") == ["Version 4.2 shipped.", "30% off."]


def test_the_answer_sentence_is_kept_with_the_sentence_it_leans_on(
    compressor: ContextCompressor,
) -> None:
    passages = _passages()
    compressed = compressor.compress("When did Levi's Stadium open?", passages)
    assert compressed[0].excerpt is None  # the best-ranked passage stays whole
    stadium = compressed[1].text_for_prompt
    # The name matches "The venue is called Levi's Stadium."; "It opened in 2014", which
    # answers, leans on it and is kept with it.
    assert "It opened in 2014" in stadium and "The venue is called Levi's Stadium." in stadium
    assert "Ticket prices" not in stadium and "San Diego" not in stadium
    assert stadium.startswith(ELLIPSIS) and stadium.endswith(ELLIPSIS)
    assert len(stadium) < 0.6 * len(STADIUM)
    assert compressed[2].excerpt == ""  # nothing near the best sentence: left out


def test_short_passages_are_whole_unless_left_out(embedder: SentenceTransformerEmbedder) -> None:
    keep_all = ContextCompressor(embedder, drop_margin=None)
    compressed = keep_all.compress("When did Levi's Stadium open?", _passages())
    assert compressed[2].excerpt is None  # under 300 characters: whole


def test_compression_changes_the_prompt_and_nothing_else(compressor: ContextCompressor) -> None:
    passages = _passages()
    question = "When did Levi's Stadium open?"
    compressed = compressor.compress(question, passages)
    assert [(p.n, p.hit) for p in compressed] == [(p.n, p.hit) for p in passages]
    answer = "It opened in 2014 [2], after the 2013 vote [2][1]."
    whole = map_citations(answer, passages)
    assert map_citations(answer, compressed) == whole
    assert [c.text for c in whole] == [STADIUM, FIRST]  # citations carry the whole passage
    prompt = build_messages(question, compressed)[-1].content
    assert "Ticket prices" not in prompt and "It opened in 2014" in prompt
    assert 'n="2" source="sb/p2.md"' in prompt


def test_a_passage_far_from_the_question_is_left_out_and_the_others_keep_their_numbers(
    compressor: ContextCompressor,
) -> None:
    passages = _passages()
    question = "When did Levi's Stadium open?"
    compressed = compressor.compress(question, passages)
    assert [p.excerpt == "" for p in compressed] == [False, False, True]
    assert [(p.n, p.hit) for p in compressed] == [(p.n, p.hit) for p in passages]
    assert compressed[2].hit.text == HALFTIME  # the evidence panel still has it whole
    prompt = build_messages(question, compressed)[-1].content
    assert 'n="1"' in prompt and 'n="2"' in prompt and 'n="3"' not in prompt
    assert "Coldplay" not in prompt and NO_PASSAGES_NOTE not in prompt
    kept = ContextCompressor(compressor.embedder, drop_margin=None).compress(question, passages)
    assert "Coldplay" in build_messages(question, kept)[-1].content
    # A citation of the left-out passage still names its whole text.
    assert [c.text for c in map_citations("It opened in 2014 [2][3].", compressed)] == [
        STADIUM,
        HALFTIME,
    ]


def test_the_best_ranked_passages_are_never_left_out(
    embedder: SentenceTransformerEmbedder,
) -> None:
    passages = _passages()
    order = [passages[0], passages[2], passages[1]]  # the halftime passage second
    question = "When did Levi's Stadium open?"
    assert ContextCompressor(embedder).compress(question, order)[1].excerpt != ""
    assert ContextCompressor(embedder, shown_top=1).compress(question, order)[1].excerpt == ""


def test_sentences_are_scored_under_their_passage_heading() -> None:
    class Recorder:
        name = "recorder"
        dimension = 2

        def __init__(self) -> None:
            self.texts: list[str] = []

        def embed_documents(self, texts: list[str]) -> np.ndarray:
            self.texts.extend(texts)
            return np.ones((len(texts), 2), dtype=np.float32)

        def embed_query(self, text: str) -> np.ndarray:
            return np.ones(2, dtype=np.float32)

    recorder = Recorder()
    hit = SearchHit("h", STADIUM, {"source": "sb.md", "section": "Super Bowl 50 > Venue"}, 1.0)
    ContextCompressor(recorder, whole_top=0).compress("Where?", [Passage(1, hit)])  # type: ignore[arg-type]
    assert recorder.texts[0] == "Venue: " + split_sentences(STADIUM)[0]
    assert all(t.startswith("Venue: ") for t in recorder.texts)


def test_short_passages_stay_whole(compressor: ContextCompressor) -> None:
    short = Passage(2, SearchHit("s", "One line. Two lines.", {}, 0.5))
    assert compressor.compress("lines?", [_passages()[0], short])[1].excerpt is None


def test_the_answerer_sends_excerpts_and_shows_whole_passages(
    embedder: SentenceTransformerEmbedder,
) -> None:
    backend = WordCountBackend(reply="It opened in 2014 [2].")
    index = SimpleNamespace(embedder=embedder)
    retrieval = Retrieval("When did Levi's Stadium open?", _passages(), True, 0.0)
    plain = Answerer(index, WordCountBackend(), max_answer_tokens=50)  # type: ignore[arg-type]
    squeezed = Answerer(index, backend, max_answer_tokens=50, compress=True)  # type: ignore[arg-type]
    answer = squeezed.stream(retrieval).consume()
    plain.stream(retrieval).consume()
    sent = backend.calls[0][-1].content
    assert backend.count_messages(backend.calls[0]) < plain.backend.count_messages(  # type: ignore[attr-defined]
        plain.backend.calls[0]  # type: ignore[attr-defined]
    )
    assert "Ticket prices" not in sent
    assert [c.text for c in answer.citations] == [STADIUM]
    assert [p.hit.text for p in answer.passages] == [FIRST, STADIUM, HALFTIME]


def test_compression_is_on_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONTEXT", "SHOWN_TOP", "DROP_MARGIN"):
        monkeypatch.delenv(f"KBCHAT_COMPRESS_{name}", raising=False)
    retrieval = RetrievalSettings(_env_file=None)
    assert retrieval.compress_context is True
    assert (retrieval.compress_shown_top, retrieval.compress_drop_margin) == (2, 0.25)
