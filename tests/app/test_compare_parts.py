"""The pure parts of the compare and quality views: figures, gate summary, bins, CSV safety,
and stopping an abandoned comparison's streams."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.answer_view import NO_CLAIM, figure_rows, figures_markdown
from app.gate_view import redaction_text, withheld_lines
from app.quality_data import groundedness_bins, latency_bins, thumbs
from kbchat.answering.prompt import Passage
from kbchat.answering.service import Answer, AnswerStream, Retrieval
from kbchat.compare import CompareRun
from kbchat.llm.base import ChatStream, GenerationStats
from kbchat.policy.gate import GateDecision, Withheld
from tests.conftest import make_settings
from vectorstore.records import SearchHit

pytestmark = pytest.mark.unit


def _stats(**changes: object) -> GenerationStats:
    values: dict[str, object] = dict(
        model="m", tokens_in=1810, tokens_out=24, ttft_s=0.5, seconds=2.5, queued_s=0.0
    )
    values.update(changes)
    return GenerationStats(**values)  # type: ignore[arg-type]


def test_figures_of_a_cloud_answer_include_the_cost_and_mark_estimated_tokens() -> None:
    answer = Answer(
        "cloud",
        "gpt",
        "x",
        stats=_stats(tokens_estimated=True),
        cost_usd=0.000127,
        groundedness=0.5,
    )
    rows = dict(figure_rows(answer))
    assert rows == {
        "Time to first token": "0.50 s",
        "Total time": "2.50 s",
        "Tokens/s": "12.0",
        "Tokens in / out": "≈ 1,810 / 24",
        "Cost estimate (USD)": "$0.000127",
        "Groundedness": "50%",
    }


def test_figures_of_a_private_answer_say_when_it_waited_and_have_no_cost() -> None:
    answer = Answer("private", "smol", "x", stats=_stats(ttft_s=None, queued_s=1.5))
    rows = dict(figure_rows(answer))
    assert "Cost estimate (USD)" not in rows and "Time to first token" not in rows
    assert rows["Total time"] == "4.00 s (1.5 s waiting for the model)"
    assert rows["Groundedness"] == NO_CLAIM


def test_figure_table_cells_are_escaped() -> None:
    table = figures_markdown([("Model", "a|b ![x](http://e.invalid)")])
    assert "a\\|b" in table and "](" not in table


def _passage(n: int, source: str) -> Passage:
    return Passage(n, SearchHit(f"c{n}", "text", {"source": source, "section": "Bands"}, 1.0))


def test_gate_summary_lines_and_redaction_counts() -> None:
    decision = GateDecision(
        True,
        None,
        Retrieval("q", [], True, 0.0),
        withheld=[Withheld(_passage(2, "hr/private/pay.csv"), "confidential")],
        redactions=Counter({"email": 2, "phone": 1, "badge": 1, "id": 0}),
    )
    assert withheld_lines(decision) == ["[2] hr/private/pay.csv › Bands — confidential"]
    assert redaction_text(decision.redactions) == (
        "1 badge value, 2 e-mail addresses, 1 phone number"
    )
    assert redaction_text(Counter()) == ""


def test_bins_cover_every_bin_of_every_model() -> None:
    rows = [
        {"backend": "private", "model": "s", "groundedness": 1.0, "seconds": 9.5, "ttft_s": 1.0},
        {"backend": "cloud", "model": "g", "groundedness": 0.05, "seconds": 0.4, "ttft_s": None},
        {"backend": "cloud", "model": "g", "groundedness": None, "seconds": None, "ttft_s": 0.2},
    ]
    grounded = groundedness_bins(rows)
    assert len(grounded) == 20 and grounded["answers"].sum() == 2
    top = grounded[(grounded["order"] == 9) & (grounded["model"] == "s (private)")]
    assert top["bin"].item() == "90–100%" and top["answers"].item() == 1
    total = latency_bins(rows, "seconds")
    assert total["bin"].iloc[0] == "0–1 s" and total["answers"].sum() == 2
    assert latency_bins([], "seconds").empty


def test_thumbs_count_ratings_per_model() -> None:
    rows = [
        {"backend": "private", "model": "s", "rating": 1},
        {"backend": "private", "model": "s", "rating": -1},
        {"backend": "private", "model": "s", "rating": None},
        {"backend": "cloud", "model": "g", "rating": 1},
    ]
    table = thumbs(rows).set_index("Model")
    assert table.loc["s (private)"].tolist() == [1, 1, 50]
    assert table.loc["g (ChatGPT)"].tolist() == [1, 0, 100]


class _Endless:
    """An answerer with the real stream types whose model writes until it is stopped."""

    label = "private"

    def stream(self, retrieval: Retrieval, *_args: object, **_kwargs: object) -> AnswerStream:
        def body(stream: ChatStream) -> Iterator[str]:
            while not stream.stop_requested:  # as every backend does between tokens
                yield "x"

        return AnswerStream(Answer("private", "endless"), ChatStream(body))


def test_an_abandoned_comparison_stops_its_streams(tmp_path: Path) -> None:
    """A page left mid-answer: the reader stops reading, and `CompareRun` stops the model."""
    settings = make_settings(tmp_path)  # not the defaults: they would look at ./vectorstore/data
    run = CompareRun(
        settings,
        Retrieval("q", [], True, 0.0),
        [],
        _Endless(),
        sides=("private",),  # type: ignore[arg-type]
    )
    events = run.events()
    assert next(events).text == "x"
    events.close()  # the page left: the run closes its streams
    # The worker thread may be mid-token when the close comes; it must end on its own
    # (its last event is the end marker), not keep the model writing.
    ended = []
    while (event := run._events.get(timeout=30)) is not None:
        ended.append(event.kind)
    assert ended[-1:] == ["done"]
    assert list(run._streams[0]) == []  # stopped, not writing forever
    closed = CompareRun(
        settings,
        Retrieval("q", [], True, 0.0),
        [],
        _Endless(),
        sides=("private",),  # type: ignore[arg-type]
    )
    closed.close()  # closed before its answer started: the stream stops as it starts
    assert [e.kind for e in closed.events()] == ["done"]


def test_passages_left_out_of_the_prompt_are_listed_apart() -> None:
    """Compression can leave a found passage out of the prompt; the evidence panel says so."""
    from streamlit.testing.v1 import AppTest

    def page() -> None:
        from app.conversation import ChatTurn
        from app.evidence import render_evidence
        from kbchat.answering.citations import map_citations
        from kbchat.answering.prompt import Passage
        from kbchat.answering.service import Answer
        from vectorstore.records import SearchHit

        def passage(n: int, excerpt: str | None) -> Passage:
            hit = SearchHit(f"c{n}", f"Text {n}.", {"source": f"doc{n}.md"}, 1.0)
            return Passage(n, hit, excerpt)

        passages = [passage(1, None), passage(2, "Text 2."), passage(3, "")]
        answer = Answer("private", "m", "Yes [1].", passages=passages)
        answer.citations = map_citations(answer.text, passages)
        render_evidence(ChatTurn("Q?", answer=answer))

    at = AppTest.from_function(page).run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    headings = ["Sources the answer cites:", "Passages the model was given but did not cite:"]
    left_out = next(i for i, c in enumerate(captions) if c.startswith("Also found, but left"))
    assert [captions.index(h) for h in headings] + [left_out] == sorted(
        [captions.index(h) for h in headings] + [left_out]
    )
    doc3 = next(i for i, c in enumerate(captions) if c.startswith("Source\\: doc3"))
    assert doc3 > left_out, "the left-out passage is listed under its own heading"
