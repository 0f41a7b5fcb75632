"""How the Chat page answers a question: the private model, ChatGPT, or both side by side.

Each function streams into the current assistant message and fills in the `ChatTurn`; the
retrieval is done once by the caller and shared. ChatGPT is only ever asked through
`kbchat.cloud.start_cloud_answer` (by `kbchat.conversation.start_cloud`, or inside
`kbchat.compare.CompareRun`), which puts the question through the policy gate and the audit
log; the conversation's history and taint come from `kbchat.conversation`.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app import conversation, services
from app.conversation import ChatTurn
from app.gate_view import render_gate
from app.render import label_markdown, sanitised_stream
from app.side_by_side import (
    WAIT_ICON,
    new_comparison,
    stream_both,
    stream_private,
    waiting_notice,
)
from kbchat.answering.service import Answer, AnswerStream, Retrieval, Turn
from kbchat.conversation import carried_answer, start_cloud, start_private
from kbchat.settings import Settings

logger = logging.getLogger(__name__)


def until_first_text(stream: AnswerStream, status: DeltaGenerator) -> Generator[str, None, None]:
    """The answer's deltas; the waiting/reading status is cleared when the first one comes."""
    waiting = True
    try:
        for delta in stream:
            if waiting and delta:
                status.empty()
                waiting = False
            yield delta
        if waiting:
            status.empty()
    finally:
        stream.close()  # an abandoned answer frees the model at once (no-op when finished)


def _write(stream: AnswerStream, status: DeltaGenerator) -> Answer:
    """Stream an answer into the page (escaped as it comes); returns the finished answer."""
    deltas = sanitised_stream(until_first_text(stream, status))
    try:
        st.write_stream(deltas)
    finally:
        deltas.close()
    return stream.answer


def _record(turn: ChatTurn, config: Settings, retrieval: Retrieval) -> None:
    if turn.answer is None:
        return
    try:
        turn.answer_id = services.ledger(config).record_answer(
            turn.question,
            turn.answer,
            session=conversation.session_id(),
            retrieval_s=retrieval.seconds,
        )
    except Exception:  # the answer stands even if the ledger is unavailable
        logger.exception("Could not record the answer in the ledger")


def answer_private(
    turn: ChatTurn, retrieval: Retrieval, earlier: Sequence[Turn], config: Settings
) -> None:
    """The private model answers; the answer goes to the ledger (thumbs attach to it)."""
    answerer = services.answerer(config)
    status = st.empty()
    if retrieval.relevant:
        status.caption(label_markdown(f"{answerer.backend.model_name} is reading the passages…"))

    def on_wait(ahead: int) -> None:
        status.info(waiting_notice(ahead), icon=WAIT_ICON)

    stream = start_private(turn, answerer, retrieval, earlier, on_wait=on_wait)
    turn.answer = _write(stream, status)
    _record(turn, config, retrieval)


def answer_cloud(
    turn: ChatTurn, retrieval: Retrieval, earlier: Sequence[Turn], config: Settings
) -> None:
    """ChatGPT answers what the gate lets through; withheld passages and redactions are shown
    first. A refusal is kept in ``turn.refused``."""
    request = start_cloud(
        turn,
        config,
        retrieval,
        earlier,
        answerer=services.cloud_answerer(config),
        session=conversation.session_id(),
    )
    turn.decision = request.decision
    render_gate(request.decision)
    if request.stream is None:
        turn.refused = request.refused or "the policy gate refused the request."
        return
    status = st.empty()
    if retrieval.relevant:
        status.caption(label_markdown(f"ChatGPT ({config.cloud.cloud_model}) is writing…"))
    turn.answer = _write(request.stream, status)
    _record(turn, config, retrieval)


def answer_both(
    turn: ChatTurn, retrieval: Retrieval, earlier: Sequence[Turn], config: Settings
) -> None:
    """Both models side by side, as on the Compare page; the private answer (or ChatGPT's,
    when the private model failed) carries the conversation on."""
    unavailable = services.cloud_unavailable(config)
    shown = new_comparison(retrieval, config, unavailable)
    turn.comparison = shown
    if unavailable:
        stream_private(retrieval, earlier, config, shown)
    else:
        stream_both(retrieval, earlier, config, shown)
    turn.answer = carried_answer(shown.comparison)
