"""Every case of the labelled redaction set (tests/data/redaction_cases.jsonl) on the shipped
redactor: positives are redacted as their kind, negatives are left exactly as they are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kbchat.policy.normalise import normalise
from kbchat.policy.redaction import Redactor

pytestmark = pytest.mark.unit

CASES_FILE = Path(__file__).resolve().parents[1] / "data" / "redaction_cases.jsonl"
CASES: list[dict[str, Any]] = [
    json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line
]
POSITIVE = [c for c in CASES if c["kind"]]
NEGATIVE = [c for c in CASES if not c["kind"]]
ALL = ["email", "phone", "id", "secret"]


def test_the_set_is_big_enough_and_covers_the_hard_negatives() -> None:
    assert len(POSITIVE) >= 80 and len(NEGATIVE) >= 40
    assert {c["category"] for c in NEGATIVE} >= {"date", "price", "version", "order", "isbn"}


@pytest.mark.parametrize("case", POSITIVE, ids=[c["text"][:40] for c in POSITIVE])
def test_positive_cases_are_redacted(case: dict[str, Any]) -> None:
    result = Redactor(ALL).redact(case["text"])
    label = f"[REDACTED {case['kind'].upper()}]"
    assert result.text.count(label) == len(case["values"]), result.text
    assert result.counts[case["kind"]] == len(case["values"])
    for value in case["values"]:
        assert value not in result.text
    # Only the value goes: the words around it are kept as they were.
    rest = case["text"]
    for value in case["values"]:
        rest = rest.replace(value, label, 1)
    assert result.text == rest


@pytest.mark.parametrize("case", NEGATIVE, ids=[c["text"][:40] for c in NEGATIVE])
def test_negative_cases_are_left_alone(case: dict[str, Any]) -> None:
    result = Redactor(ALL).redact(case["text"])
    assert result.text == case["text"]
    assert not result.counts


def test_replacements_land_on_the_original_characters() -> None:
    text = "Café ﬁles: mail zoë＠quillon.example or call 0113\u00a0496\u00a00123 – thanks\u00a0!"
    result = Redactor(ALL).redact(text)
    expected = "Café ﬁles: mail [REDACTED EMAIL] or call [REDACTED PHONE] – thanks\u00a0!"
    assert result.text == expected


def test_normalised_text_maps_back_to_the_original() -> None:
    original = "a＠b\u200bc ﬁx\u00a0y–z"
    normalised = normalise(original)
    assert normalised.text == "a@bc fix y-z"
    assert normalised.span(0, 3) == (0, 3)  # "a@b"
    assert normalised.span(5, 7) == (6, 7)  # "fi" came from one ligature
    assert normalised.span(3, 4) == (4, 5)  # "c", after the dropped zero-width space
    assert normalised.span(0, len(normalised.text)) == (0, len(original))
    assert normalise("plain ascii").text == "plain ascii"


def test_redaction_is_stable_in_any_context() -> None:
    # The gate's last check runs on the assembled prompt: a replacement must not make its
    # neighbours look like values ("[REDACTED PHONE], the night line 01134960125").
    redactor = Redactor(ALL)
    text = "Call 0113 496 0123, the night line 01134960125 or order 10023456789."
    once = redactor.redact(text).text
    assert once == "Call [REDACTED PHONE], the night line [REDACTED PHONE] or order 10023456789."
    assert not redactor.findings(once)
    joined = "\n".join(redactor.redact(case["text"]).text for case in CASES)
    assert not redactor.findings(joined)


def test_already_redacted_text_has_no_findings() -> None:
    redactor = Redactor(ALL)
    for case in POSITIVE:
        once = redactor.redact(case["text"]).text
        assert not redactor.findings(once), once
