"""Key-phrase matching: case, spaces, hyphens, thousands separators and number words."""

from __future__ import annotations

import pytest

from kbchat.evaluation.phrases import contains_phrase, match_phrases, normalise

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Twenty-Five  Days", "25 days"),
        ("twenty five days", "25 days"),
        ("five thousand pounds", "5000 pounds"),
        ("£5,000 and 62,000", "£5000 and 62000"),
        ("a hundred", "100"),
        ("one thousand", "1000"),
        ("one hundred and fifty", "150"),
        ("three thousand five hundred", "3500"),
        ("two thousand and twenty six", "2026"),
        ("one and two", "1 and 2"),
        ("the twenty-fifth", "the 25th"),
        ("third floor", "3rd floor"),
        ("wait a second", "wait a second"),
        ("QC–309 — the error", "qc 309 the error"),
        ("don’t", "don't"),
        ("a b c", "a b c"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(
    ("answer", "phrase", "expected"),
    [
        ("You can carry over FIVE days.", "5 days", True),  # case and number words
        ("You can carry over 5   days.", "five days", True),  # spaces, the other way round
        ("a 5-day limit", "5 day", True),  # hyphen
        ("up to £5,000 a year", "five thousand", True),
        ("up to five thousand a year", "5,000", True),
        ("twenty-seven days", "27 days", True),
        ("Sign in again after 12 hours.", "12 hours", True),
        ("You get 15 days", "5", False),  # 5 is not in 15
        ("You get 15 days", "5 days", False),
        ("It costs 4.25", "4.2", False),  # nor 4.2 in 4.25
        ("Version 4.2.1", "4.2", False),
        ("Version 4.2, November", "4.2", True),
        ("It is due on the 25th", "25th", True),
        ("It is due on the twenty-fifth", "25th", True),
        ("It is 30 days", "day", False),  # whole words only
        ("£15 per head", "£15", True),
        ("Call +44 113 496 0999 at night", "496 0999", True),
        ("Label it QUILLON CONFIDENTIAL.", "quillon confidential", True),
        ("anything", "", False),  # an empty phrase matches nothing
    ],
)
def test_contains_phrase(answer: str, phrase: str, expected: bool) -> None:
    assert contains_phrase(answer, phrase) is expected


def test_match_phrases_keeps_the_order() -> None:
    found, missing = match_phrases("Up to five days carry over [1].", ["31 March", "5 days"])
    assert found == ["5 days"] and missing == ["31 March"]
