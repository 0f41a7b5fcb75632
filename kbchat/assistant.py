"""The one answering service: every front end asks its questions here.

``kbchat ask``, ``kbchat chat``, ``kbchat eval``, the Chat page and the Compare page all
answer through `Assistant`, so each rule lives once:

- the question cap and the empty-index check;
- retrieval for the user who asks: only the documents their groups may read, filtered inside
  both retrievers before fusion (`kbchat.access`);
- who answers (the private model, the cloud model, both side by side), and the fall-back to
  the private model alone when the cloud is unavailable, which is audited like any refusal;
- the cloud policy gate and the audit log (`kbchat.cloud_answer.start_cloud_answer`);
- the ledger: every answer and comparison is recorded with the user's id, and a recorded
  comparison goes to the automatic judge (``KBCHAT_JUDGE_AUTO``).

``for event in assistant.ask(question, history, user=user, models="both")`` follows the
answers as they are written (`kbchat.compare.CompareEvent`); the run's ``result`` holds them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal, get_args

from kbchat.answerers import cloud_answerer, private_answerer
from kbchat.answering.service import Answer, Answerer, Retrieval, Turn
from kbchat.audit import AuditLog, audit_for
from kbchat.compare import CompareRun, Comparison, Side
from kbchat.errors import IndexEmptyError
from kbchat.identity import User
from kbchat.ledger import Ledger, ledger_for
from kbchat.policy.gate import CloudGate
from kbchat.settings import Settings

Models = Literal["private", "cloud", "both"]
MODELS: tuple[Models, ...] = get_args(Models)
_SIDES: dict[Models, tuple[Side, ...]] = {
    "private": ("private",),
    "cloud": ("cloud",),
    "both": ("private", "cloud"),
}
_LOG = logging.getLogger(__name__)


class Assistant:
    """Answers questions for a user from the documents they may read.

    Building is cheap; models load on their first answer.

    Args:
        settings: effective settings (the admin's run-time changes applied).
        private: the private answerer (built from settings when ``None``).
        cloud: the cloud answerer (built from settings when first needed).
        audit: the audit log (the configured one when ``None``).
        ledger: the ledger answers are recorded in (the configured one when ``None``).
        record: record answers and comparisons in the ledger (``kbchat eval`` keeps its own
            report and records nothing).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        private: Answerer | None = None,
        cloud: Answerer | None = None,
        audit: AuditLog | None = None,
        ledger: Ledger | None = None,
        record: bool = True,
    ) -> None:
        self.settings = settings
        self.private = private if private is not None else private_answerer(settings)[0]
        self._cloud = cloud
        self._audit = audit
        self._ledger = ledger
        self.record = record

    @property
    def cloud(self) -> Answerer:
        """The cloud answerer (never stream from it directly: `answer` gates every request)."""
        if self._cloud is None:
            self._cloud = cloud_answerer(self.settings)
        return self._cloud

    @property
    def audit(self) -> AuditLog:
        """The audit log every cloud request and refusal is written to."""
        if self._audit is None:
            self._audit = audit_for(self.settings)
        return self._audit

    def cloud_unavailable(self) -> str | None:
        """Why the cloud model cannot be used (switched off, no key), or None when it can."""
        return CloudGate(self.settings).availability()

    def used_confidential(self, answer: Answer) -> bool:
        """Whether an answer drew on a confidential passage, by its indexed label or its
        document's label in force now (an admin's new label or rule counts at once)."""
        return answer.used_confidential or CloudGate(self.settings).any_confidential(
            answer.passages
        )

    def retrieve(self, question: str, history: Sequence[Turn] = (), *, user: User) -> Retrieval:
        """The passages for a question, from the documents this user may read only.

        Raises:
            QuestionTooLongError: the question is over ``KBCHAT_MAX_QUESTION_CHARS``.
            IndexEmptyError: nothing has been ingested yet.
            KbchatError: the index or the embedding model cannot be used.
        """
        self.private.check_question(question)
        if self.private.index.count() == 0:
            raise IndexEmptyError()
        return self.private.retrieve(question, history, reader=user)

    def answer(
        self,
        retrieval: Retrieval,
        history: Sequence[Turn] = (),
        *,
        user: User,
        models: Models = "private",
        session: str | None = None,
    ) -> CompareRun:
        """Start the answers to a retrieved question; iterate the run to follow them.

        With ``models="both"`` and the cloud unavailable, the private model answers alone
        and the refusal is audited; with ``models="cloud"`` the gate refuses (audited) and
        the run ends with a ``refused`` event.
        """
        sides = _SIDES[models]
        unavailable = self.cloud_unavailable() if models == "both" else None
        if unavailable:
            sides = ("private",)
            self.audit.record(
                "gate_refused",
                outcome=f"refused: {unavailable}",
                session=session,
                user=user.id,
                question=retrieval.question,
                model=self.settings.cloud.cloud_model,
            )
        cloud = None if "cloud" not in sides or self.cloud_unavailable() else self.cloud

        def complete(result: Comparison) -> None:
            if self.record:
                self._record(result, sides, session, user)

        run = CompareRun(
            self.settings,
            retrieval,
            history,
            self.private,
            cloud=cloud,
            session=session,
            audit=self._audit,
            sides=sides,
            user=user.id,
            on_complete=complete,
        )
        run.result.refused = unavailable
        return run

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        user: User,
        models: Models = "private",
        session: str | None = None,
    ) -> CompareRun:
        """Retrieve for the user, then start the answers (`retrieve`, then `answer`).

        Raises:
            QuestionTooLongError: the question is over ``KBCHAT_MAX_QUESTION_CHARS``.
            IndexEmptyError: nothing has been ingested yet.
            KbchatError: the index or the embedding model cannot be used.
        """
        retrieval = self.retrieve(question, history, user=user)
        return self.answer(retrieval, history, user=user, models=models, session=session)

    def _record(
        self, result: Comparison, sides: tuple[Side, ...], session: str | None, user: User
    ) -> None:
        """Put the finished answers in the ledger (an unavailable ledger never fails them)."""
        ledger = self._ledger if self._ledger is not None else ledger_for(self.settings)
        try:
            if len(sides) == 2:
                result.comparison_id = ledger.record_comparison(
                    result, session=session, user=user.id
                )
                from kbchat.judging import judge_in_background

                judge_in_background(self.settings, result.comparison_id, session=session)
                return
            for side in sides:
                answer: Answer | None = getattr(result, side)
                if answer is not None and side not in result.errors:
                    result.answer_ids[side] = ledger.record_answer(
                        result.question,
                        answer,
                        session=session,
                        retrieval_s=result.retrieval.seconds,
                        user=user.id,
                    )
        except Exception:  # noqa: BLE001 - the answers stand even if the ledger is unavailable
            _LOG.exception("Could not record the answers in the ledger")
            result.record_error = "The answers could not be recorded; the details are logged."
