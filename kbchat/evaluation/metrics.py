"""The evaluation metrics, per question and over a set.

Retrieval (once per run; every model answers from the same passages):
    recall@k: share of answerable questions with gold files whose top ``k`` passages include
    one from a gold file (R@1: whose first passage is from one). MRR: mean of ``1 / rank``
    of the first such passage (0 when none).
    Unanswerable questions and questions without gold files are left out.

Per model, over the questions whose answer did not fail and was not stopped by the cloud
policy gate (those are counted as ``failed`` and ``not_asked`` and left out of every ratio):

key phrases
    answerable questions with ``answer_contains`` whose answer contains ALL the phrases,
    over such questions (a refusal counts as a miss). Matching normalises case, spaces,
    hyphens, thousands separators and number words (`kbchat.evaluation.phrases`).
refusal accuracy
    refused unanswerable questions over unanswerable questions. An answer is a refusal when
    the model was not called (no relevant passages) or it opens by saying the documents do
    not cover the question (`kbchat.answering.scoring.is_refusal`, the test answer scoring uses).
false refusals
    refused answerable questions over answerable questions.
citation precision
    over answerable questions with gold files, micro-averaged: cited passages from a gold
    file over cited passages, each cited passage number counted once per answer; answers
    without citations add nothing. ``cited answers`` is the share of answers written by the
    model (to those questions) that cite at least one passage. ``None`` (n/a) when nothing
    was cited.
groundedness
    mean `kbchat.answering.scoring.groundedness` over answers written by the model that make a
    claim.
latency
    time to first token and total seconds (from the moment the model served the request),
    p50 and p95 by linear interpolation between closest ranks, over answers written by the
    model.
tokens and cost
    totals over every call made, failed ones included; cost at the configured cloud prices
    (``KBCHAT_CLOUD_PRICE_*``, `kbchat.cloud_answer.cost_usd`), 0 for the private model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kbchat.answering.scoring import is_refusal
from kbchat.answering.service import Answer
from kbchat.evaluation.dataset import EvalQuestion
from kbchat.evaluation.phrases import match_phrases

Outcome = Literal["answered", "refused", "failed", "not_asked"]


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


# --- retrieval -------------------------------------------------------------------------------


def first_gold_rank(sources: Sequence[str], gold_files: Sequence[str]) -> int | None:
    """1-based rank of the first passage from a gold file, or None."""
    gold = set(gold_files)
    return next((i for i, source in enumerate(sources, start=1) if source in gold), None)


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

    @property
    def hits(self) -> int:
        """Questions with a gold file in the top k."""
        return sum(r.hit for r in self.rows)

    @property
    def hits_at_1(self) -> int:
        """Questions whose first passage is from a gold file."""
        return sum(r.first_gold_rank == 1 for r in self.rows)

    @property
    def recall_at_1(self) -> float:
        """R@1: share of the questions whose first passage is from a gold file."""
        return self.hits_at_1 / self.questions if self.questions else 0.0


def retrieval_result(question: EvalQuestion, sources: Sequence[str], k: int) -> RetrievalResult:
    """Score one question's retrieved sources (best first) against its gold files."""
    top = tuple(sources)[:k]
    return RetrievalResult(
        question.question, question.gold_files, top, first_gold_rank(top, question.gold_files)
    )


def scored_for_retrieval(question: EvalQuestion) -> bool:
    """Whether a question counts for recall and MRR (answerable, with gold files)."""
    return not question.unanswerable and bool(question.gold_files)


def summarise_retrieval(rows: Sequence[RetrievalResult], k: int) -> RetrievalSummary:
    """Recall@k and MRR over already scored questions."""
    if not rows:
        return RetrievalSummary(k, 0, 0.0, 0.0, list(rows))
    recall = sum(r.hit for r in rows) / len(rows)
    mrr = sum(1 / r.first_gold_rank for r in rows if r.first_gold_rank) / len(rows)
    return RetrievalSummary(k, len(rows), recall, mrr, list(rows))


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
    rows = [
        retrieval_result(q, retrieve(q.question), k) for q in questions if scored_for_retrieval(q)
    ]
    return summarise_retrieval(rows, k)


# --- answers ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks.

    The same definition as ``numpy.percentile``'s default; None for no values.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Ratio:
    """A share with its counts: ``hits`` of ``total`` (value None when total is 0)."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        """hits / total, or None when there is nothing to count."""
        return self.hits / self.total if self.total else None

    def to_dict(self) -> dict[str, Any]:
        """``{"value", "n", "of"}``."""
        return {"value": _r(self.value), "n": self.hits, "of": self.total}


@dataclass(frozen=True)
class ModelAnswer:
    """One model's answer to one question, scored.

    Figures that do not apply are None: key phrases for a question without any, citation
    precision for an answer without citations or a question without gold files, every
    answer figure for a failed or not-asked answer.
    """

    backend: str
    model: str
    text: str = ""
    answered_by_model: bool = False
    refused: bool | None = None
    error: str | None = None
    not_asked: str | None = None
    phrases_matched: tuple[str, ...] = ()
    phrases_missing: tuple[str, ...] = ()
    key_phrases_ok: bool | None = None
    citations: tuple[tuple[int, str], ...] = ()
    cited_gold: int | None = None
    groundedness: float | None = None
    ttft_s: float | None = None
    seconds: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    withheld: int = 0
    passages_used: tuple[int, ...] = ()

    @property
    def outcome(self) -> Outcome:
        """answered, refused, failed or not_asked (the cloud policy gate stopped it)."""
        if self.error is not None:
            return "failed"
        if self.not_asked is not None:
            return "not_asked"
        return "refused" if self.refused else "answered"

    @property
    def scored(self) -> bool:
        """Whether this answer counts for the answer metrics (it neither failed nor was stopped)."""
        return self.error is None and self.not_asked is None

    @property
    def written(self) -> bool:
        """Whether the model wrote this answer (it was called and did not fail)."""
        return self.scored and self.answered_by_model

    @property
    def citation_precision(self) -> float | None:
        """Cited passages from a gold file over cited passages (None: n/a)."""
        if self.cited_gold is None or not self.citations:
            return None
        return self.cited_gold / len(self.citations)

    def to_dict(self) -> dict[str, Any]:
        """One model's part of a row of ``kbchat eval --json``."""
        return {
            "backend": self.backend,
            "model": self.model,
            "outcome": self.outcome,
            "answer": self.text,
            "answered_by_model": self.answered_by_model,
            "refused": self.refused,
            "phrases_matched": list(self.phrases_matched),
            "phrases_missing": list(self.phrases_missing),
            "key_phrases_ok": self.key_phrases_ok,
            "citations": [{"n": n, "source": source} for n, source in self.citations],
            "cited_gold": self.cited_gold,
            "citation_precision": _r(self.citation_precision),
            "groundedness": _r(self.groundedness),
            "ttft_s": _r(self.ttft_s, 3),
            "seconds": _r(self.seconds, 3),
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": round(self.cost_usd, 6),
            "passages_used": list(self.passages_used),
            "withheld": self.withheld,
            "error": self.error,
            "not_asked": self.not_asked,
        }


def score_answer(question: EvalQuestion, answer: Answer, *, withheld: int = 0) -> ModelAnswer:
    """Score a finished answer against its question.

    Args:
        question: the evaluation question.
        answer: the model's answer (its ``error`` set when it failed).
        withheld: passages the cloud policy gate kept from the model.
    """
    stats = answer.stats
    common: dict[str, Any] = {
        "backend": answer.backend,
        "model": answer.model,
        "text": answer.text,
        "answered_by_model": answer.answered_by_model,
        "tokens_in": stats.tokens_in if stats else 0,
        "tokens_out": stats.tokens_out if stats else 0,
        "cost_usd": answer.cost_usd or 0.0,
        "withheld": withheld,
        "passages_used": tuple(p.n for p in answer.passages),
    }
    if answer.error is not None:
        return ModelAnswer(**common, error=answer.error)
    phrases = not question.unanswerable and bool(question.answer_contains)
    matched, missing = match_phrases(answer.text, question.answer_contains) if phrases else ((), ())
    citations = tuple((c.n, c.source) for c in answer.citations)
    gold = set(question.gold_files)
    written = answer.answered_by_model
    return ModelAnswer(
        **common,
        refused=is_refusal(answer.text, answer.answered_by_model),
        phrases_matched=tuple(matched),
        phrases_missing=tuple(missing),
        key_phrases_ok=(not missing) if phrases else None,
        citations=citations,
        cited_gold=sum(source in gold for _, source in citations) if gold else None,
        groundedness=answer.groundedness if written else None,
        ttft_s=stats.ttft_s if stats and written else None,
        seconds=stats.seconds if stats and written else None,
    )


def failed_answer(backend: str, model: str, error: str) -> ModelAnswer:
    """A model call that failed before any answer existed."""
    return ModelAnswer(backend, model, error=error)


def not_asked_answer(backend: str, model: str, reason: str, withheld: int) -> ModelAnswer:
    """The cloud policy gate did not let the question go to the model."""
    return ModelAnswer(backend, model, not_asked=reason, withheld=withheld)


@dataclass(frozen=True)
class ModelSummary:
    """One model's figures over a run (definitions in the module docstring)."""

    backend: str
    model: str
    questions: int
    written: int
    not_called: int
    failed: int
    not_asked: int
    key_phrases: Ratio
    refusal_accuracy: Ratio
    false_refusals: Ratio
    citation_precision: Ratio
    cited_answers: Ratio
    groundedness: float | None
    grounded_answers: int
    ttft_p50: float | None
    ttft_p95: float | None
    seconds_p50: float | None
    seconds_p95: float | None
    tokens_in: int
    tokens_out: int
    cost_usd: float

    def to_dict(self) -> dict[str, Any]:
        """The model's part of ``summary`` in ``kbchat eval --json``."""
        return {
            "backend": self.backend,
            "model": self.model,
            "questions": self.questions,
            "answers_written": self.written,
            "not_called": self.not_called,
            "failed": self.failed,
            "not_asked": self.not_asked,
            "key_phrases": self.key_phrases.to_dict(),
            "refusal_accuracy": self.refusal_accuracy.to_dict(),
            "false_refusals": self.false_refusals.to_dict(),
            "citation_precision": self.citation_precision.to_dict(),
            "cited_answers": self.cited_answers.to_dict(),
            "groundedness": {"value": _r(self.groundedness), "of": self.grounded_answers},
            "ttft_s": {"p50": _r(self.ttft_p50, 3), "p95": _r(self.ttft_p95, 3)},
            "seconds": {"p50": _r(self.seconds_p50, 3), "p95": _r(self.seconds_p95, 3)},
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": round(self.cost_usd, 6),
        }


def summarise_model(
    pairs: Sequence[tuple[EvalQuestion, ModelAnswer]], backend: str, model: str
) -> ModelSummary:
    """One model's figures over (question, scored answer) pairs, in set order."""
    scored = [(q, a) for q, a in pairs if a.scored]
    answerable = [(q, a) for q, a in scored if not q.unanswerable]
    unanswerable = [a for q, a in scored if q.unanswerable]
    with_phrases = [a for q, a in answerable if q.answer_contains]
    gold_written = [a for q, a in answerable if q.gold_files and a.written]
    cited = [a for a in gold_written if a.citations]
    written = [a for _, a in scored if a.written]
    grounded = [a.groundedness for a in written if a.groundedness is not None]
    ttfts = [a.ttft_s for a in written if a.ttft_s is not None]
    totals = [a.seconds for a in written if a.seconds is not None]
    answers = [a for _, a in pairs]
    return ModelSummary(
        backend=backend,
        model=model,
        questions=len(pairs),
        written=len(written),
        not_called=sum(not a.answered_by_model for _, a in scored),
        failed=sum(a.outcome == "failed" for a in answers),
        not_asked=sum(a.outcome == "not_asked" for a in answers),
        key_phrases=Ratio(sum(bool(a.key_phrases_ok) for a in with_phrases), len(with_phrases)),
        refusal_accuracy=Ratio(sum(bool(a.refused) for a in unanswerable), len(unanswerable)),
        false_refusals=Ratio(sum(bool(a.refused) for _, a in answerable), len(answerable)),
        citation_precision=Ratio(
            sum(a.cited_gold or 0 for a in cited), sum(len(a.citations) for a in cited)
        ),
        cited_answers=Ratio(len(cited), len(gold_written)),
        groundedness=sum(grounded) / len(grounded) if grounded else None,
        grounded_answers=len(grounded),
        ttft_p50=percentile(ttfts, 50),
        ttft_p95=percentile(ttfts, 95),
        seconds_p50=percentile(totals, 50),
        seconds_p95=percentile(totals, 95),
        tokens_in=sum(a.tokens_in for a in answers),
        tokens_out=sum(a.tokens_out for a in answers),
        cost_usd=sum(a.cost_usd for a in answers),
    )
