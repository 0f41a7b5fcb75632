"""The conversation of one browser session, kept in ``st.session_state``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import streamlit as st

from app.comparisons import ShownComparison
from kbchat.answering.service import Answer, Turn
from kbchat.conversation import Choice, Exchange
from kbchat.conversation import history as core_history
from kbchat.policy.gate import CloudGate, GateDecision
from kbchat.settings import Settings

__all__ = ["ChatTurn", "Choice", "clear", "history", "session_id", "turns"]

_TURNS = "kbchat_turns"
_SESSION = "kbchat_session_id"


@dataclass
class ChatTurn(Exchange):
    """A question and what came back, as the page shows it (the core `Exchange`, plus what
    only the page needs)."""

    retrieval_s: float | None = None
    answer_id: int | None = None
    """Row of the answer in the ledger (thumbs are stored against it); None if not recorded."""
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Stable id of the turn for widget keys."""
    decision: GateDecision | None = None
    """What the policy gate let through to ChatGPT (ChatGPT answers only)."""
    refused: str | None = None
    """Why the policy gate did not let the question go to ChatGPT, if it did not."""
    comparison: ShownComparison | None = None
    """Both answers, side by side (``choice == "both"``); ``answer`` is then the private one."""

    def given(self) -> list[Answer]:
        """Every answer of this turn, those of its side-by-side comparison included."""
        answers = super().given()
        if self.comparison is not None:
            compared = self.comparison.comparison
            answers += [a for a in (compared.private, compared.cloud) if a is not None]
        return answers


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


def history(conversation: list[ChatTurn], config: Settings) -> list[Turn]:
    """Earlier exchanges for a follow-up question, with the conversation's taint (see
    `kbchat.conversation`): the policy gate keeps tainted ones from the cloud.

    Args:
        conversation: the turns so far.
        config: effective settings (their path rules judge the passages as they are now).
    """
    return core_history(conversation, CloudGate(config))
