"""Answers from the cloud model (ChatGPT), always through the policy gate and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kbchat.answerers import cloud_answerer
from kbchat.answering.service import Answer, Answerer, AnswerStream, Retrieval, Turn
from kbchat.audit import AuditLog, audit_for
from kbchat.errors import CloudNotAllowedError, KbchatError
from kbchat.llm.base import ChatMessage
from kbchat.policy.gate import CloudGate, GateDecision
from kbchat.settings import Settings


def cost_usd(settings: Settings, tokens_in: int, tokens_out: int) -> float:
    """Estimated cost of a cloud answer at the configured prices."""
    cloud = settings.cloud
    return round(
        tokens_in * cloud.cloud_price_in_per_mtok / 1e6
        + tokens_out * cloud.cloud_price_out_per_mtok / 1e6,
        6,
    )


@dataclass
class CloudRequest:
    """The gate's decision for one question, and the answer stream when the cloud may answer."""

    decision: GateDecision
    stream: AnswerStream | None

    @property
    def refused(self) -> str | None:
        """Why the cloud was not asked, if it was not."""
        return None if self.stream is not None else self.decision.reason


def start_cloud_answer(
    settings: Settings,
    retrieval: Retrieval,
    history: Sequence[Turn] = (),
    *,
    answerer: Answerer | None = None,
    session: str | None = None,
    user: str | None = None,
    audit: AuditLog | None = None,
) -> CloudRequest:
    """Put a question through the gate and, if it may go, start the cloud answer.

    Every outcome is written to the audit log: a refusal at once, a call when it ends (with
    tokens, cost and the outcome, including errors).

    Args:
        settings: effective settings (the admin's run-time changes applied).
        retrieval: the passages retrieved for the question (shared with the private model).
        history: earlier exchanges of the conversation.
        answerer: the cloud answerer (built from settings when ``None``).
        session: the UI session, for the audit log.
        user: the user, if known.
        audit: the audit log (the configured one when ``None``).
    """
    log = audit or audit_for(settings)
    gate = CloudGate(settings)
    decision = gate.review(retrieval, history)
    withheld_ids = [w.passage.hit.chunk_id for w in decision.withheld]
    refusal = dict(
        session=session,
        user=user,
        question=retrieval.question,
        model=settings.cloud.cloud_model,
        passages_withheld=withheld_ids,
    )
    if not decision.allowed or decision.retrieval is None:
        log.record("gate_refused", outcome=f"refused: {decision.reason}", **refusal)  # type: ignore[arg-type]
        return CloudRequest(decision, None)
    cloud = answerer or cloud_answerer(settings)

    def guard(messages: list[ChatMessage]) -> None:
        try:
            gate.check_prompt(messages, decision)
        except CloudNotAllowedError as err:
            log.record("gate_refused", outcome=f"refused: {err}", **refusal)  # type: ignore[arg-type]
            raise

    def finished(answer: Answer, error: BaseException | None) -> None:
        stats = answer.stats
        if stats is not None:
            answer.cost_usd = cost_usd(settings, stats.tokens_in, stats.tokens_out)
        if error is not None:
            answer.error = str(error) if isinstance(error, KbchatError) else repr(error)
        if not answer.answered_by_model:
            return
        log.record(
            "cloud_call",
            outcome="ok" if error is None else f"error: {answer.error}",
            session=session,
            user=user,
            question=retrieval.question,
            model=cloud.backend.model_name,
            passages_sent=[p.hit.chunk_id for p in answer.passages],
            passages_withheld=withheld_ids,
            redactions=dict(decision.redactions),
            tokens_in=stats.tokens_in if stats else None,
            tokens_out=stats.tokens_out if stats else None,
            cost_usd=answer.cost_usd,
        )

    try:
        stream = cloud.stream(decision.retrieval, decision.history, guard=guard, on_finish=finished)
    except CloudNotAllowedError:
        raise
    except KbchatError as err:
        log.record("cloud_call", outcome=f"error: {err}", **refusal)  # type: ignore[arg-type]
        raise
    return CloudRequest(decision, stream)
