"""Evaluation sets: what a line may hold, and errors that name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbchat.errors import KbchatError
from kbchat.evaluation import EvalQuestion, load_eval_set

pytestmark = pytest.mark.unit


def test_fields_are_optional_but_the_question(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(
        '{"question": "How many days?", "gold_files": ["hr/leave.md"], '
        '"answer_contains": ["27 days"]}\n'
        "\n"
        '{"question": " Is there a pension? ", "unanswerable": true}\n',
        encoding="utf-8",
    )
    assert load_eval_set(path) == [
        EvalQuestion("How many days?", ("hr/leave.md",), ("27 days",), False),
        EvalQuestion("Is there a pension?", (), (), True),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"gold_files": []}', 'non-empty "question"'),
        ("not json", "line 2"),
        ('["a list"]', "JSON object"),
        ('{"question": "q", "gold_file": ["x"]}', "unknown field(s) gold_file"),
        ('{"question": "q", "gold_files": "hr/leave.md"}', '"gold_files" must be a list'),
        ('{"question": "q", "answer_contains": [""]}', "non-empty strings"),
        ('{"question": "q", "unanswerable": "yes"}', "true or false"),
        ('{"question": "q", "unanswerable": true, "gold_files": ["a.md"]}', "unanswerable"),
    ],
)
def test_bad_lines_are_reported_with_their_number(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(KbchatError, match="line 2") as err:
        load_eval_set(path)
    assert message in str(err.value)


def test_missing_or_empty_sets_are_errors(tmp_path: Path) -> None:
    with pytest.raises(KbchatError, match="Cannot read"):
        load_eval_set(tmp_path / "missing.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(KbchatError, match="no questions"):
        load_eval_set(empty)
