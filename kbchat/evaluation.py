"""Evaluation sets and retrieval metrics (recall@k, MRR) over the knowledge index."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kbchat.errors import KbchatError


@dataclass(frozen=True)
class EvalQuestion:
    """One line of an evaluation set (JSONL)."""

    question: str
    gold_files: tuple[str, ...] = ()
    answer_contains: tuple[str, ...] = ()
    unanswerable: bool = False


def load_eval_set(path: Path) -> list[EvalQuestion]:
    """Read an evaluation set: one JSON object per line, ``question`` required.

    Raises:
        KbchatError: the file is missing or a line is malformed (the line number is given).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise KbchatError(f"Cannot read the evaluation set {path}: {err.strerror}") from err
    questions: list[EvalQuestion] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not str(row.get("question", "")).strip():
                raise ValueError('each line needs a non-empty "question"')
            questions.append(
                EvalQuestion(
                    question=str(row["question"]),
                    gold_files=tuple(str(f) for f in row.get("gold_files") or ()),
                    answer_contains=tuple(str(p) for p in row.get("answer_contains") or ()),
                    unanswerable=bool(row.get("unanswerable", False)),
                )
            )
        except (ValueError, TypeError) as err:
            raise KbchatError(f"{path}, line {number}: {err}") from err
    if not questions:
        raise KbchatError(f"The evaluation set {path} has no questions.")
    return questions


@dataclass(frozen=True)
class RetrievalResult:
    """Retrieval figures of one question."""

    question: str
    gold_files: tuple[str, ...]
    retrieved: tuple[str, ...]
    first_gold_rank: int | None

    @property
    def hit(self) -> bool:
        """Whether a gold file was among the retrieved passages."""
        return self.first_gold_rank is not None


@dataclass
class RetrievalSummary:
    """Recall@k and MRR over the answerable questions of a set."""

    k: int
    questions: int
    recall_at_k: float
    mrr: float
    rows: list[RetrievalResult] = field(default_factory=list)


def score_retrieval(
    questions: Sequence[EvalQuestion],
    retrieve: Callable[[str], Sequence[str]],
    k: int,
) -> RetrievalSummary:
    """Measure retrieval against gold files.

    Recall@k is the share of answerable questions with at least one gold file among the
    sources of the top ``k`` passages; MRR averages ``1 / rank`` of the first such passage
    (0 when none). Questions without gold files are left out.

    Args:
        questions: the evaluation set.
        retrieve: question -> sources of the retrieved passages, best first.
        k: cut-off.
    """
    rows: list[RetrievalResult] = []
    for q in questions:
        if q.unanswerable or not q.gold_files:
            continue
        sources = tuple(retrieve(q.question))[:k]
        gold = set(q.gold_files)
        rank = next((i for i, source in enumerate(sources, start=1) if source in gold), None)
        rows.append(RetrievalResult(q.question, q.gold_files, sources, rank))
    if not rows:
        return RetrievalSummary(k, 0, 0.0, 0.0, rows)
    recall = sum(r.hit for r in rows) / len(rows)
    mrr = sum(1 / r.first_gold_rank for r in rows if r.first_gold_rank) / len(rows)
    return RetrievalSummary(k, len(rows), recall, mrr, rows)
