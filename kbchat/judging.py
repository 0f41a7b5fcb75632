"""Judging recorded comparisons: the gate, the audit log, the ledger, and background judging.

The judge obeys the cloud policy gate unless it is configured as private
(``KBCHAT_JUDGE_PRIVATE``, an endpoint inside the company):

- a cloud judge is used only when an admin allows the cloud and a key is set;
- a comparison whose passages include a confidential one (by its label then, an unknown
  label, or the current path rules and admin labels), or whose conversation had drawn on one
  before, is never sent to a cloud judge: it is skipped, and the refusal is audited;
- what a cloud judge is sent (question, passages, both answers) is redacted like any cloud
  request, and the assembled prompt is checked once more before it goes.

Every judge request is an audit row (``judge_call``), with tokens and, for a cloud judge, the
estimated cost.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kbchat.audit import AuditLog, audit_for
from kbchat.cloud_answer import cost_usd
from kbchat.errors import CloudNotAllowedError, KbchatError
from kbchat.judge import (
    EvidencePassage,
    JudgeCase,
    JudgeEndpoint,
    JudgeOutcome,
    Side,
    judge_messages,
)
from kbchat.judge_store import JudgeStore
from kbchat.ledger import Ledger, ledger_for
from kbchat.llm.base import ChatMessage
from kbchat.overrides import sensitivity_overrides
from kbchat.policy.gate import CloudGate, GateDecision
from kbchat.settings import Settings

Status = Literal["judged", "unparseable", "skipped", "failed"]
SAFE_LABELS = ("public", "internal")
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourcedPassage:
    """A passage with what decides whether it may leave the company."""

    passage: EvidencePassage
    sensitivity: str | None
    chunk_id: str


@dataclass
class JudgeItem:
    """What happened to one comparison."""

    comparison_id: int | None
    question: str
    status: Status
    verdict: str | None = None
    reason: str = ""
    outcome: JudgeOutcome | None = None

    def to_dict(self) -> dict[str, Any]:
        """One entry of ``judged`` in ``kbchat judge --json``."""
        data: dict[str, Any] = {
            "comparison_id": self.comparison_id,
            "question": self.question,
            "status": self.status,
            "verdict": self.verdict,
            "reason": self.reason,
        }
        if self.outcome is not None:
            data["orders"] = self.outcome.to_dict()["orders"]
        return data


@dataclass
class JudgeRun:
    """The result of `Judging.run`."""

    judge_model: str
    private: bool
    items: list[JudgeItem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Comparisons per status."""
        counted = Counter(item.status for item in self.items)
        return {s: counted.get(s, 0) for s in ("judged", "unparseable", "skipped", "failed")}

    def to_dict(self) -> dict[str, Any]:
        """``kbchat judge --json``."""
        return {
            "judge_model": self.judge_model,
            "judge_private": self.private,
            **self.counts(),
            "judged_items": [item.to_dict() for item in self.items],
        }


def judge_unavailable(settings: Settings) -> str | None:
    """Why the judge cannot be used at all, or None when it can."""
    judge = settings.judge
    if judge.judge_private:
        if not judge.judge_base_url:
            return (
                "KBCHAT_JUDGE_PRIVATE is true but KBCHAT_JUDGE_BASE_URL is empty: point it "
                "at the judge server inside the company, or set KBCHAT_JUDGE_PRIVATE=false."
            )
        return None
    if not settings.cloud.cloud_allowed:
        return (
            "The judge is a cloud model and the cloud is switched off: an admin must allow it "
            "(KBCHAT_CLOUD_ALLOWED or the Admin page), or set KBCHAT_JUDGE_BASE_URL to a judge "
            "inside the company with KBCHAT_JUDGE_PRIVATE=true."
        )
    secret = judge.judge_api_key or settings.cloud.openai_api_key
    if secret is None or not secret.get_secret_value().strip():
        return (
            "The judge has no API key: set KBCHAT_JUDGE_API_KEY (or OPENAI_API_KEY), or use a "
            "judge inside the company (KBCHAT_JUDGE_BASE_URL, KBCHAT_JUDGE_PRIVATE=true)."
        )
    return None


class Judging:
    """Judges comparisons with the configured judge, through the gate and the audit log.

    Args:
        settings: effective settings (the admin's run-time changes applied).
        ledger: the quality ledger (the configured one when None).
        audit: the audit log (the configured one when None).
        session: recorded with every audit row.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        ledger: Ledger | None = None,
        audit: AuditLog | None = None,
        session: str | None = None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger or ledger_for(settings)
        self.audit = audit or audit_for(settings)
        self.session = session
        self.endpoint = JudgeEndpoint(settings)
        self.gate = CloudGate(settings)
        self._labels = sensitivity_overrides(settings)

    @property
    def model(self) -> str:
        """The judge model's name."""
        return self.endpoint.model_name

    def is_confidential(self, passage: SourcedPassage) -> bool:
        """Whether a passage must stay in the company, on its labels as they are now."""
        label = (passage.sensitivity or "").lower()
        current = self._labels.get(passage.passage.source)
        return (
            label not in SAFE_LABELS
            or current not in (None, *SAFE_LABELS)
            or self.gate.labels.is_confidential(passage.passage.source)
        )

    def judge_case(
        self,
        comparison_id: int | None,
        question: str,
        passages: Sequence[SourcedPassage],
        private: str,
        cloud: str,
        *,
        history_confidential: bool = False,
    ) -> JudgeItem:
        """Judge one pair, or say why it was not; never raises for one pair's failure."""
        base = {"session": self.session, "question": question, "model": self.model}
        unavailable = judge_unavailable(self.settings)
        if unavailable:
            self.audit.record("gate_refused", outcome=f"refused: {unavailable}", **base)  # type: ignore[arg-type]
            return JudgeItem(comparison_id, question, "skipped", reason=unavailable)
        ids = [p.chunk_id for p in passages]
        if self.endpoint.private:
            case = JudgeCase(question, [p.passage for p in passages], private, cloud)
            return self._ask(comparison_id, case, ids, [], {}, base)
        secret = [p for p in passages if self.is_confidential(p)]
        if secret or history_confidential:
            what = "it drew on" if secret else "the conversation had drawn on"
            reason = (
                f"confidential comparison: {what} a confidential passage, so only a private "
                "judge (KBCHAT_JUDGE_PRIVATE) may see it"
            )
            self.audit.record(
                "gate_refused",
                outcome=f"refused: {reason}",
                passages_withheld=[p.chunk_id for p in secret],
                **base,  # type: ignore[arg-type]
            )
            return JudgeItem(comparison_id, question, "skipped", reason=reason)
        counts: Counter[str] = Counter()

        def clean(text: str) -> str:
            result = self.gate.redactor.redact(text)
            counts.update(result.counts)
            return result.text

        case = JudgeCase(
            clean(question),
            [
                EvidencePassage(p.passage.n, p.passage.source, clean(p.passage.text))
                for p in passages
            ],
            clean(private),
            clean(cloud),
        )
        return self._ask(comparison_id, case, ids, [], dict(counts), base)

    def _ask(
        self,
        comparison_id: int | None,
        case: JudgeCase,
        sent_ids: list[str],
        withheld_ids: list[str],
        redactions: dict[str, int],
        base: dict[str, Any],
    ) -> JudgeItem:
        if not self.endpoint.private:
            decision = GateDecision(allowed=True, reason=None, retrieval=None)
            try:
                for first in ("private", "cloud"):
                    messages: list[ChatMessage] = judge_messages(case, first)
                    self.gate.check_prompt(messages, decision)
            except CloudNotAllowedError as err:
                self.audit.record("gate_refused", outcome=f"refused: {err}", **base)
                return JudgeItem(comparison_id, case.question, "skipped", reason=str(err))

        def audited(first: Side, tokens_in: int, tokens_out: int, error: Exception | None) -> None:
            cost = None
            if not self.endpoint.private and error is None:
                cost = cost_usd(self.settings, tokens_in, tokens_out)
            self.audit.record(
                "judge_call",
                outcome="ok" if error is None else f"error: {error}",
                passages_sent=sent_ids,
                passages_withheld=withheld_ids,
                redactions=redactions,
                tokens_in=tokens_in or None,
                tokens_out=tokens_out or None,
                cost_usd=cost,
                detail=f"comparison {comparison_id}, {first} answer shown first"
                + (" (private judge)" if self.endpoint.private else ""),
                **base,
            )

        try:
            outcome = self.endpoint.judge(case, after_call=audited)
        except KbchatError as err:
            return JudgeItem(comparison_id, case.question, "failed", reason=str(err))
        status: Status = "judged" if outcome.parsed else "unparseable"
        return JudgeItem(
            comparison_id, case.question, status, outcome.verdict, outcome.reason, outcome
        )

    def run(
        self,
        *,
        since: str | None = None,
        limit: int | None = None,
        again: bool = False,
        comparison_ids: Sequence[int] | None = None,
    ) -> JudgeRun:
        """Judge the recorded comparisons this judge has not judged yet (oldest first).

        Parsed and unparseable verdicts are stored in the ledger; skipped and failed ones are
        not (they are tried again next time).

        Raises:
            CloudNotAllowedError: the judge cannot be used at all (the refusal is audited).
        """
        unavailable = judge_unavailable(self.settings)
        if unavailable:
            self.audit.record(
                "gate_refused",
                outcome=f"refused: {unavailable}",
                session=self.session,
                model=self.model,
            )
            raise CloudNotAllowedError(unavailable)
        store = JudgeStore(self.ledger)
        run = JudgeRun(self.model, self.endpoint.private)
        for case in store.candidates(
            self.model, since=since, limit=limit, again=again, comparison_ids=comparison_ids
        ):
            if case.passages is None:
                run.items.append(
                    JudgeItem(
                        case.comparison_id,
                        case.question,
                        "skipped",
                        reason="recorded before kbchat kept a comparison's passages: it "
                        "cannot be judged on what the models saw",
                    )
                )
                continue
            item = self.judge_case(
                case.comparison_id,
                case.question,
                [SourcedPassage(p.for_judge(), p.sensitivity, p.chunk_id) for p in case.passages],
                case.private,
                case.cloud,
                history_confidential=case.history_confidential,
            )
            if item.outcome is not None:
                store.record(case.comparison_id, item.outcome)
            run.items.append(item)
        return run


def judge_in_background(
    settings: Settings, comparison_id: int, *, session: str | None = None
) -> threading.Thread | None:
    """Judge one just-recorded comparison in a daemon thread when ``KBCHAT_JUDGE_AUTO`` is on.

    Returns:
        The thread (to wait for it in tests), or None when automatic judging is off or the
        judge cannot be used (then nothing is sent, and the reason is logged).
    """
    if not settings.judge.judge_auto:
        return None
    unavailable = judge_unavailable(settings)
    if unavailable:
        _LOG.info("Automatic judging is on but the judge cannot be used: %s", unavailable)
        return None

    def work() -> None:
        try:
            run = Judging(settings, session=session).run(comparison_ids=[comparison_id])
            for item in run.items:
                if item.status in ("failed", "skipped"):
                    _LOG.warning("Comparison %s not judged: %s", comparison_id, item.reason)
        except Exception:  # noqa: BLE001 - a background judge must never take the UI down
            _LOG.exception("Judging comparison %s failed", comparison_id)

    thread = threading.Thread(target=work, name=f"kbchat-judge-{comparison_id}", daemon=True)
    thread.start()
    return thread
