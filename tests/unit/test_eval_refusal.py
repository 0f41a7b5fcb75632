"""The one refusal test (`kbchat.answering.scoring.is_refusal`), shared by groundedness and
kbchat eval."""

from __future__ import annotations

import pytest

from kbchat.answering.prompt import Passage
from kbchat.answering.scoring import groundedness, is_refusal, says_not_covered
from kbchat.answering.service import NOTHING_FOUND
from vectorstore.records import SearchHit

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "answer",
    [
        NOTHING_FOUND,
        "The documents do not cover pensions.",
        "The provided passages don't mention a pension provider. Ask the People Team.",
        "Sorry. The documents do not say who the pension provider is.",
        "I could not find any information about pensions in the passages.",
        "I couldn’t find that in the documents.",
        "There is no information about share options in the documents.",
        "I don't have information about the summer party.",
        "The context does not provide details about HIPAA.",
        "This is not mentioned in the documents.",
    ],
)
def test_refusals(answer: str) -> None:
    assert is_refusal(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "You get 27 days of annual leave [1].",
        # Facts first, then a gap: an answer, not a refusal.
        "You get 27 days [1]. The documents do not mention carry-over for part-timers.",
        # "does not cover" with the policy, not the documents, as subject is a claim.
        "The travel policy does not cover spa or gym charges [2].",
        "Damage is not covered by the insurance [1].",
        "",
    ],
)
def test_answers_are_not_refusals(answer: str) -> None:
    assert not is_refusal(answer)


def test_a_model_that_was_not_called_refused() -> None:
    assert is_refusal("anything at all", answered_by_model=False)


def test_groundedness_leaves_out_what_is_not_covered() -> None:
    passage = Passage(1, SearchHit("a", "Everyone gets 27 days of annual leave.", {}, 1.0))
    answer = "Everyone gets 27 days of annual leave [1]. The documents do not cover pensions."
    assert says_not_covered("The documents do not cover pensions.")
    assert groundedness(answer, [passage]) == 1.0  # one claim, supported; the gap is no claim
    assert not says_not_covered("The travel policy does not cover gym charges [2].")
