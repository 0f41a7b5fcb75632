"""Evaluation sets: one JSON object per line, checked line by line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbchat.errors import KbchatError

FIELDS = ("question", "gold_files", "answer_contains", "unanswerable")


@dataclass(frozen=True)
class EvalQuestion:
    """One line of an evaluation set (JSONL).

    Attributes:
        question: what is asked.
        gold_files: corpus-relative paths of the documents that answer it.
        answer_contains: key phrases a right answer contains (see `kbchat.evaluation.phrases`).
        unanswerable: the documents do not answer it; the right answer is a refusal.
    """

    question: str
    gold_files: tuple[str, ...] = ()
    answer_contains: tuple[str, ...] = ()
    unanswerable: bool = False


def _strings(row: dict[str, Any], key: str) -> tuple[str, ...]:
    value = row.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f'"{key}" must be a list of non-empty strings')
    return tuple(v.strip() for v in value)


def parse_line(line: str) -> EvalQuestion:
    """One evaluation question from one JSON line.

    Raises:
        ValueError: the line is not valid JSON or not a valid question (the message says why).
    """
    row = json.loads(line)
    if not isinstance(row, dict):
        raise ValueError("each line must be a JSON object")
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError('each line needs a non-empty "question"')
    unanswerable = row.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise ValueError('"unanswerable" must be true or false')
    gold, phrases = _strings(row, "gold_files"), _strings(row, "answer_contains")
    if unanswerable and (gold or phrases):
        raise ValueError('an "unanswerable" question has no "gold_files" or "answer_contains"')
    return EvalQuestion(question.strip(), gold, phrases, unanswerable)


def load_eval_set(path: Path) -> list[EvalQuestion]:
    """Read an evaluation set: one JSON object per line, ``question`` required.

    Fields: ``question`` (str), ``gold_files`` (paths relative to the corpus root),
    ``answer_contains`` (key phrases), ``unanswerable`` (bool); all but ``question`` optional.
    Blank lines are skipped.

    Raises:
        KbchatError: the file is missing, empty, or a line is malformed (its number is given).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise KbchatError(f"Cannot read the evaluation set {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise KbchatError(f"The evaluation set {path} is not UTF-8 text: {err.reason}") from err
    questions: list[EvalQuestion] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(parse_line(line))
        except ValueError as err:  # json.JSONDecodeError is a ValueError
            raise KbchatError(f"{path}, line {number}: {err}") from err
    if not questions:
        raise KbchatError(f"The evaluation set {path} has no questions.")
    return questions
