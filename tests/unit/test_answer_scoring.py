"""Groundedness of an answer against the passages it cites."""

from __future__ import annotations

import pytest

from kbchat.answering.prompt import Passage
from kbchat.answering.scoring import groundedness, sentences, supported
from vectorstore.records import SearchHit

pytestmark = pytest.mark.unit

PASSAGES = [
    Passage(1, SearchHit("a", "Full-time employees receive 27 days of paid annual leave.", {}, 1)),
    Passage(2, SearchHit("b", "Up to 5 unused days may be carried over until 31 March.", {}, 1)),
]


def test_sentences_split_on_punctuation_and_lines() -> None:
    text = "You get 27 days [1]. You can carry 5 over [2].\n- Ask HR first."
    assert sentences(text) == ["You get 27 days [1].", "You can carry 5 over [2].", "Ask HR first."]
    assert sentences("[1]") == []


def test_supported_needs_the_numbers_and_most_words() -> None:
    text = PASSAGES[0].hit.text
    assert supported("Employees receive 27 days of paid leave [1].", text)
    assert not supported("Employees receive 30 days of paid leave [1].", text)  # wrong number
    assert not supported("The canteen serves vegan lunches daily [1].", text)  # unrelated


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Employees receive 27 days of paid annual leave [1].", 1.0),
        ("Employees receive 27 days of paid annual leave [2].", 0.0),  # cites the wrong passage
        ("Employees receive 27 days of paid annual leave.", 0.0),  # cites nothing
        ("You receive 27 days of annual leave [1]. Unused days, up to 5, carry over until "
         "31 March [2]. Bonuses are paid in June [2].", 2 / 3),
        ("The documents do not cover pensions.", None),
        ("", None),
    ],
)  # fmt: skip
def test_groundedness(answer: str, expected: float | None) -> None:
    got = groundedness(answer, PASSAGES)
    assert got == (pytest.approx(expected) if expected is not None else None)
