"""One conversation: its exchanges, the history a follow-up is asked with, and its taint.

The chat page and ``kbchat chat`` both hold their conversation through this module and answer
through the answering service (`kbchat.assistant.Assistant`): a follow-up is retrieved with
the earlier questions, answered with the earlier exchanges as history, and every cloud
request goes through `kbchat.cloud_answer.start_cloud_answer`, where the policy gate filters that
history.

The taint rule. Once an exchange has drawn on a confidential passage (any model was given
one, judged by the labels in force when the next question is asked), that exchange and
every later exchange of the conversation are tainted, and no tainted exchange is sent to the
cloud as history. Why the taint passes on, rather than only marking the exchange that was
given the passage: the private model sees the earlier exchanges when it answers a follow-up,
so a later answer can repeat a confidential figure while its own passages are all harmless;
an answer cannot be checked for what it learnt, but its place in the conversation can.
Why not the other rule (private answers never go to the cloud as history): it would cut the
cloud off from every private exchange, also in the many conversations that never touch a
confidential document, and it would protect nothing more, since both rules rest on the same
labels, and a passage with a wrong label reaches the cloud directly anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, get_args

from kbchat.answering.prompt import Passage
from kbchat.answering.service import Answer, Turn
from kbchat.compare import Comparison
from kbchat.policy.gate import CloudGate

Choice = Literal["private", "cloud", "both"]
CHOICES: tuple[Choice, ...] = get_args(Choice)


@dataclass
class Exchange:
    """One question of a conversation and what came back.

    Attributes:
        question: what was asked.
        choice: who was asked: the private model, the cloud model, or both side by side.
        answer: the answer the conversation goes on from (in a comparison the private one,
            or the cloud's when the private one failed); ``None`` when there is none.
        error: what went wrong, for the user, if anything did.
        started: every answer a model started for the question (private and cloud).
        compared: the comparison, when both models were asked.
    """

    question: str
    choice: Choice = "private"
    answer: Answer | None = None
    error: str | None = None
    started: list[Answer] = field(default_factory=list)
    compared: Comparison | None = None

    def given(self) -> list[Answer]:
        """Every answer of this exchange (each holds the passages its model was given)."""
        answers = [*self.started, *([self.answer] if self.answer is not None else [])]
        if self.compared is not None:
            answers += [a for a in (self.compared.private, self.compared.cloud) if a is not None]
        return answers

    @property
    def continues(self) -> bool:
        """Whether a follow-up is asked with this exchange: a model answered, without error."""
        answer = self.answer
        return answer is not None and answer.answered_by_model and self.error is None


def history(exchanges: Iterable[Exchange], gate: CloudGate) -> list[Turn]:
    """The earlier exchanges a follow-up is asked with, oldest first, each marked tainted
    when it or any exchange before it (answered or not) drew on a confidential passage.

    Args:
        exchanges: the conversation so far, oldest first.
        gate: the policy gate of the current settings (its rules judge the passages now).
    """
    tainted = False
    turns: list[Turn] = []
    for exchange in exchanges:
        answers = exchange.given()
        passages: list[Passage] = []
        for answer in answers:
            passages += [p for p in answer.passages if p not in passages]
        tainted = (
            tainted or any(a.used_confidential for a in answers) or gate.any_confidential(passages)
        )
        if exchange.continues and exchange.answer is not None:
            turns.append(
                Turn(
                    exchange.question,
                    exchange.answer.text,
                    used_confidential=tainted,
                    passages=tuple(passages),
                )
            )
    return turns


def is_tainted(exchanges: Iterable[Exchange], gate: CloudGate) -> bool:
    """Whether the conversation has drawn on a confidential passage (the cloud then gets
    none of its exchanges from that one on)."""
    return any(
        any(a.used_confidential for a in e.given())
        or gate.any_confidential(p for a in e.given() for p in a.passages)
        for e in exchanges
    )


def carried_answer(comparison: Comparison) -> Answer | None:
    """The answer of a comparison the conversation goes on from: the private one, or the
    cloud's when the private model failed or did not answer."""
    for side in ("private", "cloud"):
        answer: Answer | None = getattr(comparison, side)
        usable = answer is not None and answer.answered_by_model and not answer.error
        if usable and side not in comparison.errors:
            return answer
    return None
