"""The conversation of one browser session, kept in ``st.session_state``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import streamlit as st

from app.comparisons import ShownComparison
from kbchat.answering.service import Answer, Turn
from kbchat.policy.gate import GateDecision

Choice = Literal["private", "cloud", "both"]

_TURNS = "kbchat_turns"
_SESSION = "kbchat_session_id"


@dataclass
class ChatTurn:
    """A question and what came back: an answer, or an error message for the user."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    retrieval_s: float | None = None
    answer_id: int | None = None
    """Row of the answer in the ledger (thumbs are stored against it); None if not recorded."""
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Stable id of the turn for widget keys."""
    choice: Choice = "private"
    """Which model(s) the user asked: the private model, ChatGPT, or both side by side."""
    decision: GateDecision | None = None
    refused: str | None = None
    """Why the policy gate did not let the question go to ChatGPT, if it did not."""
    """What the policy gate let through to ChatGPT (ChatGPT answers only)."""
    comparison: ShownComparison | None = None
    """Both answers, side by side (``choice == "both"``); ``answer`` is then the private one."""


def turns() -> list[ChatTurn]:
    """The conversation so far, oldest first (a live list: append to add a turn)."""
    if _TURNS not in st.session_state:
        st.session_state[_TURNS] = []
    found: list[ChatTurn] = st.session_state[_TURNS]
    return found


def clear() -> None:
    """Forget the conversation (the ledger keeps what was recorded)."""
    st.session_state[_TURNS] = []


def session_id() -> str:
    """A random id of this browser session, stored with each answer in the ledger."""
    if _SESSION not in st.session_state:
        st.session_state[_SESSION] = uuid.uuid4().hex
    value: str = st.session_state[_SESSION]
    return value


def history(
    conversation: list[ChatTurn], used_confidential: Callable[[Answer], bool] | None = None
) -> list[Turn]:
    """Earlier exchanges for a follow-up question: those the model actually answered.

    Each turn says whether its answer drew on a confidential passage, and names the documents
    it drew on, so that the policy gate keeps it from the cloud when one of them is
    confidential at the time of the new question.

    Args:
        conversation: the turns so far.
        used_confidential: decides that for an answer (default: the answer's own labels);
            pass one that also applies the current path rules.
    """
    check = used_confidential or (lambda answer: answer.used_confidential)
    return [
        Turn(
            turn.question,
            turn.answer.text,
            used_confidential=check(turn.answer),
            sources=turn.answer.sources,
        )
        for turn in conversation
        if turn.answer is not None and turn.answer.answered_by_model and turn.error is None
    ]
