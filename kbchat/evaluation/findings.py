"""What an evaluation run found: the figures, retrieval once and each model side by side,
and the questions that went worst, each with why.

Rendering them as text, Markdown or HTML is `kbchat.evaluation.report`'s job; here values
are only given the display their numbers need (a percentage with its counts, seconds, a
cost).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kbchat.evaluation.metrics import ModelAnswer, ModelSummary, Ratio
from kbchat.evaluation.runner import EvalRow, EvalRun

WORST = 10  # questions listed under "worst questions"
LOW_GROUNDEDNESS = 0.5
_LABELS = {"private": "Private model", "cloud": "Cloud model"}


def _pct(ratio: Ratio) -> str:
    if ratio.value is None:
        return "n/a"
    return f"{ratio.value:.1%} ({ratio.hits}/{ratio.total})"


def _secs(p50: float | None, p95: float | None) -> str:
    if p50 is None or p95 is None:
        return "n/a"
    return f"{p50:.2f} s / {p95:.2f} s"


def _cost(usd: float) -> str:
    return f"${usd:.2f}" if usd >= 1 else f"${usd:.6f}".rstrip("0").rstrip(".") if usd else "$0"


def retrieval_table(run: EvalRun) -> list[tuple[str, str]]:
    """The retrieval figures, once per run: (label, value)."""
    summary = run.summary()
    retrieval = run.retrieval()
    figures = summary["retrieval"]
    times = figures["seconds"]
    rows = [
        (
            "Questions",
            f"{summary['questions']} ({summary['answerable']} answerable, "
            f"{summary['unanswerable']} unanswerable)",
        ),
        (
            f"Recall@{retrieval.k}",
            "n/a"
            if not retrieval.questions
            else f"{retrieval.recall_at_k:.3f} ({retrieval.hits}/{retrieval.questions})",
        ),
        (
            "R@1",
            "n/a"
            if not retrieval.questions
            else f"{retrieval.recall_at_1:.3f} ({retrieval.hits_at_1}/{retrieval.questions})",
        ),
        ("MRR", "n/a" if not retrieval.questions else f"{retrieval.mrr:.3f}"),
        ("Nothing relevant found (no model called)", str(figures["not_relevant"])),
    ]
    if times["p50"] is not None:
        rows.append(
            ("Retrieval p50 / p95", f"{times['p50'] * 1000:.0f} ms / {times['p95'] * 1000:.0f} ms")
        )
    return rows


def model_table(run: EvalRun) -> tuple[list[str], list[list[str]]]:
    """The models' figures side by side: (header, rows), one column per model."""
    summaries: list[ModelSummary] = [run.model(label) for label in run.models]
    header = ["", *(_LABELS.get(s.backend, s.backend) for s in summaries)]

    def row(label: str, values: Sequence[str]) -> list[str]:
        return [label, *values]

    rows = [
        row("Model", [s.model for s in summaries]),
        row("Answers written by the model", [str(s.written) for s in summaries]),
        row("Key phrases all found", [_pct(s.key_phrases) for s in summaries]),
        row("Refusal accuracy (unanswerable)", [_pct(s.refusal_accuracy) for s in summaries]),
        row("False refusals (answerable)", [_pct(s.false_refusals) for s in summaries]),
        row("Citation precision (gold sources)", [_pct(s.citation_precision) for s in summaries]),
        row("Answers citing a passage", [_pct(s.cited_answers) for s in summaries]),
        row(
            "Groundedness (mean)",
            [
                "n/a"
                if s.groundedness is None
                else f"{s.groundedness:.1%} (over {s.grounded_answers} answers)"
                for s in summaries
            ],
        ),
        row("First token p50 / p95", [_secs(s.ttft_p50, s.ttft_p95) for s in summaries]),
        row("Total time p50 / p95", [_secs(s.seconds_p50, s.seconds_p95) for s in summaries]),
        row("Tokens in / out", [f"{s.tokens_in:,} / {s.tokens_out:,}" for s in summaries]),
        row("Cost (estimate)", [_cost(s.cost_usd) for s in summaries]),
        row("Failed", [str(s.failed) for s in summaries]),
    ]
    if any(s.not_asked for s in summaries):
        rows.append(row("Not asked (policy gate)", [str(s.not_asked) for s in summaries]))
    return header, rows


@dataclass(frozen=True)
class WorstQuestion:
    """A question listed among the worst, with the reasons and how bad they are."""

    row: EvalRow
    score: float
    reasons: tuple[str, ...]


def _answer_issues(row: EvalRow, label: str, answer: ModelAnswer) -> list[tuple[float, str]]:
    q = row.question
    if answer.outcome == "failed":
        return [(2.0, f"{label}: failed: {answer.error}")]
    if answer.outcome == "not_asked":
        return []
    issues: list[tuple[float, str]] = []
    if q.unanswerable and not answer.refused:
        issues.append((5.0, f"{label}: answered a question the documents do not answer"))
    elif not q.unanswerable and answer.refused:
        issues.append((3.0, f"{label}: refused a question the documents answer"))
    elif answer.key_phrases_ok is False:
        missing = ", ".join(repr(p) for p in answer.phrases_missing)
        issues.append((2.0, f"{label}: key phrases missing: {missing}"))
    grounded = answer.groundedness
    if (
        answer.written
        and not answer.refused
        and grounded is not None
        and grounded < LOW_GROUNDEDNESS
    ):
        issues.append((1.0 - grounded, f"{label}: groundedness {grounded:.0%}"))
    if answer.citation_precision == 0:
        issues.append((1.0, f"{label}: cites no passage from a gold file"))
    return issues


def worst_questions(run: EvalRun, limit: int = WORST) -> list[WorstQuestion]:
    """The questions that went worst, worst first.

    Weights: an unanswerable question answered 5, a retrieval miss 4, a refused answerable
    question 3, missing key phrases or a failed call 2, citing only non-gold passages 1, low
    groundedness (under 50%, refusals aside) 1 - groundedness; summed over the models, ties in
    set order.
    """
    ranked: list[WorstQuestion] = []
    for row in run.rows:
        issues: list[tuple[float, str]] = []
        if row.retrieval_miss:
            issues.append((4.0, f"retrieval: no passage from {', '.join(row.question.gold_files)}"))
        for label, answer in row.answers.items():
            issues.extend(_answer_issues(row, label, answer))
        if issues:
            ranked.append(
                WorstQuestion(row, sum(w for w, _ in issues), tuple(text for _, text in issues))
            )
    ranked.sort(key=lambda w: (-w.score, w.row.number))
    return ranked[:limit]
