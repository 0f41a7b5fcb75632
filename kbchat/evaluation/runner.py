"""Run an evaluation set: one retrieval per question, then each model on it, one after another.

Both models answer from exactly the same `Retrieval`; the cloud model goes through the policy
gate and the audit log like every other cloud call (`kbchat.cloud_answer.start_cloud_answer`). The
models run one after the other, never at the same time, so one does not slow the other and
the timings are each model's own. A model failing on a question (a rate limit, a timeout) is
recorded on that question's row; the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kbchat.answering.service import Retrieval
from kbchat.clock import now_iso
from kbchat.errors import CloudNotAllowedError, IndexEmptyError, KbchatError
from kbchat.evaluation.dataset import EvalQuestion
from kbchat.evaluation.metrics import (
    ModelAnswer,
    ModelSummary,
    RetrievalSummary,
    failed_answer,
    first_gold_rank,
    not_asked_answer,
    percentile,
    retrieval_result,
    score_answer,
    scored_for_retrieval,
    summarise_model,
    summarise_retrieval,
)
from kbchat.identity import User, local_user
from kbchat.settings import Settings
from kbchat.verdict.figures import topic_at_depth

if TYPE_CHECKING:
    from kbchat.assistant import Models
    from kbchat.compare import Comparison
    from kbchat.judging import JudgeItem, Judging

ModelChoice = Literal["private", "cloud", "both"]
MODELS: dict[str, tuple[str, ...]] = {
    "private": ("private",),
    "cloud": ("cloud",),
    "both": ("private", "cloud"),
}


@dataclass
class EvalRow:
    """One question of a run: what retrieval found and each model's scored answer."""

    number: int
    question: EvalQuestion
    retrieved: tuple[str, ...]
    first_gold_rank: int | None
    relevant: bool
    retrieval_s: float
    answers: dict[str, ModelAnswer] = field(default_factory=dict)
    topic: str | None = None
    judge: JudgeItem | None = None

    @property
    def retrieval_scored(self) -> bool:
        """Whether this question counts for recall and MRR."""
        return scored_for_retrieval(self.question)

    @property
    def retrieval_miss(self) -> bool:
        """A question with gold files none of which was retrieved."""
        return self.retrieval_scored and self.first_gold_rank is None

    def to_dict(self) -> dict[str, Any]:
        """One entry of ``rows`` in ``kbchat eval --json``."""
        q = self.question
        return {
            "number": self.number,
            "question": q.question,
            "gold_files": list(q.gold_files),
            "answer_contains": list(q.answer_contains),
            "unanswerable": q.unanswerable,
            "retrieved": list(self.retrieved),
            "first_gold_rank": self.first_gold_rank,
            "retrieval_relevant": self.relevant,
            "retrieval_s": round(self.retrieval_s, 4),
            "answers": {label: answer.to_dict() for label, answer in self.answers.items()},
            **({"judge": self.judge.to_dict()} if self.judge is not None else {}),
        }


@dataclass
class EvalRun:
    """The result of a run: its rows and what it was run with."""

    eval_set: str
    k: int
    models: tuple[str, ...]
    model_names: dict[str, str]
    rows: list[EvalRow] = field(default_factory=list)
    started_at: str = ""
    seconds: float = 0.0
    notice: str | None = None
    planned: int = 0
    interrupted: bool = False
    judge_model: str | None = None
    margin: float = 0.05

    def retrieval(self) -> RetrievalSummary:
        """Recall@k and MRR over the run's answerable questions with gold files."""
        results = [
            retrieval_result(r.question, r.retrieved, self.k)
            for r in self.rows
            if r.retrieval_scored
        ]
        return summarise_retrieval(results, self.k)

    def model(self, label: str) -> ModelSummary:
        """One model's figures over the run."""
        pairs = [(r.question, r.answers[label]) for r in self.rows if label in r.answers]
        return summarise_model(pairs, label, self.model_names.get(label, label))

    def summary(self) -> dict[str, Any]:
        """``summary`` of ``kbchat eval --json``."""
        retrieval = self.retrieval()
        seconds = [r.retrieval_s for r in self.rows]
        p50, p95 = percentile(seconds, 50), percentile(seconds, 95)
        return {
            "eval_set": self.eval_set,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 2),
            "questions": len(self.rows),
            "planned": self.planned,
            "interrupted": self.interrupted,
            "answerable": sum(not r.question.unanswerable for r in self.rows),
            "unanswerable": sum(r.question.unanswerable for r in self.rows),
            "models": list(self.models),
            "notice": self.notice,
            "retrieval": {
                "k": retrieval.k,
                "questions": retrieval.questions,
                "hits": retrieval.hits,
                "recall_at_k": round(retrieval.recall_at_k, 4),
                "recall_at_1": round(retrieval.recall_at_1, 4),
                "mrr": round(retrieval.mrr, 4),
                "not_relevant": sum(not r.relevant for r in self.rows),
                "seconds": {
                    "p50": None if p50 is None else round(p50, 4),
                    "p95": None if p95 is None else round(p95, 4),
                },
            },
            "per_model": {label: self.model(label).to_dict() for label in self.models},
            **({"verdict": self.verdict()} if self.judge_model else {}),
        }

    def verdict(self) -> dict[str, Any]:
        """``summary.verdict`` of ``kbchat eval --judge``: the judge's verdict, overall and per
        topic, with the shape of ``kbchat report --json``'s (only judge verdicts here), and
        how many questions the judge judged, found unparseable, skipped or failed on."""
        from kbchat.verdict.figures import Rated, group_verdict

        judged = [r for r in self.rows if r.judge is not None]
        rated = [
            Rated(r.number, r.topic or "(unknown)", None, r.judge.verdict)
            for r in judged
            if r.judge is not None and r.judge.verdict is not None
        ]
        topics: dict[str, list[Rated]] = {}
        for item in rated:
            topics.setdefault(item.topic, []).append(item)
        statuses = [r.judge.status for r in judged if r.judge is not None]
        return {
            "judge_model": self.judge_model,
            "margin": self.margin,
            **{s: statuses.count(s) for s in ("judged", "unparseable", "skipped", "failed")},
            "overall": group_verdict(rated, self.margin).to_json(),
            "topics": [
                {"topic": t, **group_verdict(members, self.margin).to_json()}
                for t, members in sorted(topics.items())
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole of ``kbchat eval --json``."""
        return {"summary": self.summary(), "rows": [row.to_dict() for row in self.rows]}


class EvalRunner:
    """Runs an evaluation set against the private model, the cloud model, or both.

    Args:
        settings: effective settings (the admin's run-time changes applied).
        models: labels of the models to run, in order (``()`` for retrieval only).
        k: passages retrieved per question (and given to the models); the recall cut-off.
        session: recorded with every cloud call in the audit log.

    Raises:
        CloudNotAllowedError: the cloud model is asked for but not allowed or has no key.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        models: Sequence[str] = ("private",),
        k: int | None = None,
        session: str | None = None,
        judge: bool = False,
        user: User | None = None,
    ) -> None:
        from kbchat.assistant import Assistant

        self.k = k or settings.retrieval.top_k
        retrieval = settings.retrieval.model_copy(update={"top_k": self.k})
        self.settings = settings.model_copy(update={"retrieval": retrieval})
        self.models = tuple(models)
        self.session = session
        self.user = user or local_user()
        if "cloud" in self.models:
            from kbchat.policy.gate import CloudGate

            unavailable = CloudGate(self.settings).availability()
            if unavailable:
                from kbchat.audit import audit_for

                audit_for(self.settings).record(
                    "gate_refused",
                    outcome=f"refused: {unavailable}",
                    session=session,
                    user=self.user.id,
                    model=self.settings.cloud.cloud_model,
                )
                raise CloudNotAllowedError(unavailable)
        # Building loads nothing: the private model loads on its first answer. The run keeps
        # its own report, so the service records nothing in the ledger.
        self.assistant = Assistant(self.settings, record=False)
        self.private = self.assistant.private
        self.notice = self.private.notice if "private" in self.models else None
        self.model_names = {"private": self.private.backend.model_name}
        if "cloud" in self.models:
            self.model_names["cloud"] = self.assistant.cloud.backend.model_name
        self.judging: Judging | None = None
        if judge:
            self.judging = self._judging()

    def _judging(self) -> Judging:
        """The judge for ``--judge`` (both models must answer; the judge must be usable)."""
        from kbchat.audit import audit_for
        from kbchat.judging import Judging, judge_unavailable

        if set(self.models) != {"private", "cloud"}:
            raise KbchatError("Judging needs both models' answers: use --model both with --judge.")
        unavailable = judge_unavailable(self.settings)
        if unavailable:
            audit_for(self.settings).record(
                "gate_refused", outcome=f"refused: {unavailable}", session=self.session
            )
            raise CloudNotAllowedError(unavailable)
        return Judging(self.settings, session=self.session)

    def missing_gold_files(self, questions: Sequence[EvalQuestion]) -> list[str]:
        """Gold files of the set that are not in the index (a typo, or a file not ingested),
        or that the user may not read (for them it does not exist).

        Raises:
            IndexEmptyError: nothing has been ingested.
        """
        from kbchat.knowledge import readable_sources

        if self.private.index.count() == 0:
            raise IndexEmptyError()
        indexed = readable_sources(self.settings, self.user)
        gold = dict.fromkeys(g for q in questions for g in q.gold_files)
        return [g for g in gold if g not in indexed]

    def run(
        self,
        questions: Sequence[EvalQuestion],
        *,
        eval_set: str = "",
        on_row: Callable[[EvalRow], None] | None = None,
    ) -> EvalRun:
        """Ask every question; ``on_row`` sees each finished row (for a progress display).

        Ctrl-C (KeyboardInterrupt) stops the run after the questions already done: the run
        comes back with ``interrupted`` set and the figures cover those questions.

        Raises:
            IndexEmptyError: nothing has been ingested.
            KbchatError: the index or the embedding model cannot be used.
        """
        run = EvalRun(
            eval_set=eval_set,
            k=self.k,
            models=self.models,
            model_names={m: self.model_names[m] for m in self.models},
            started_at=now_iso(),
            notice=self.notice,
            planned=len(questions),
            judge_model=self.judging.model if self.judging else None,
            margin=self.settings.verdict.verdict_margin,
        )
        started = time.perf_counter()
        try:
            self._ask_all(questions, run, on_row)
        except KeyboardInterrupt:
            run.interrupted = True
        run.seconds = time.perf_counter() - started
        return run

    def _ask_all(
        self,
        questions: Sequence[EvalQuestion],
        run: EvalRun,
        on_row: Callable[[EvalRow], None] | None,
    ) -> None:
        for number, question in enumerate(questions, start=1):
            retrieval = self.assistant.retrieve(question.question, user=self.user)
            sources = tuple(p.source for p in retrieval.passages)
            row = EvalRow(
                number=number,
                question=question,
                retrieved=sources,
                first_gold_rank=first_gold_rank(sources[: self.k], question.gold_files),
                relevant=retrieval.relevant,
                retrieval_s=retrieval.seconds,
                topic=topic_at_depth(
                    sources[0] if sources else None, self.settings.verdict.verdict_topic_depth
                ),
            )
            for label in self.models:
                if label == "private":
                    row.answers[label] = self._ask_private(question, retrieval)
                else:
                    row.answers[label] = self._ask_cloud(question, retrieval)
            if self.judging is not None:
                row.judge = self._judge(question, retrieval, row)
            run.rows.append(row)
            if on_row is not None:
                on_row(row)

    def _judge(
        self, question: EvalQuestion, retrieval: Retrieval, row: EvalRow
    ) -> JudgeItem | None:
        """The judge's verdict on a question both models answered (None when one did not)."""
        from kbchat.judge import EvidencePassage
        from kbchat.judging import SourcedPassage

        assert self.judging is not None
        private, cloud = row.answers.get("private"), row.answers.get("cloud")
        if private is None or cloud is None:
            return None
        if not (private.scored and cloud.scored and private.answered_by_model):
            return None
        if not cloud.answered_by_model:
            return None
        passages = [
            SourcedPassage(
                EvidencePassage(p.n, p.source, p.hit.text),
                str(p.hit.metadata.get("sensitivity") or "") or None,
                p.hit.chunk_id,
            )
            for p in retrieval.passages
        ]
        return self.judging.judge_case(None, question.question, passages, private.text, cloud.text)

    def _ask_private(self, question: EvalQuestion, retrieval: Retrieval) -> ModelAnswer:
        result = self._answer(retrieval, "private")
        answer = result.private
        if answer is None:
            return failed_answer("private", self.model_names["private"], result.errors["private"])
        answer.error = answer.error or result.errors.get("private")
        return score_answer(question, answer)

    def _ask_cloud(self, question: EvalQuestion, retrieval: Retrieval) -> ModelAnswer:
        result = self._answer(retrieval, "cloud")
        name = self.model_names["cloud"]
        withheld = len(result.decision.withheld) if result.decision else 0
        answer = result.cloud
        if result.refused is not None and (answer is None or not answer.text):
            return not_asked_answer("cloud", name, result.refused, withheld=withheld)
        if answer is None:
            return failed_answer("cloud", name, result.errors.get("cloud", "no answer"))
        answer.error = answer.error or result.errors.get("cloud")
        return score_answer(question, answer, withheld=withheld)

    def _answer(self, retrieval: Retrieval, side: Models) -> Comparison:
        """One model's answer through the answering service (the gate and audit for the
        cloud); a failure is kept on the result, and the run goes on."""
        run = self.assistant.answer(retrieval, user=self.user, models=side, session=self.session)
        return run.run()
