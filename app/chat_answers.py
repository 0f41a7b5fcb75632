"""How the Chat page answers a question: the private model, ChatGPT, or both side by side.

Each function streams into the current assistant message and fills in the `ChatTurn`; the
retrieval is done once by the caller and shared. Every answer comes from the answering
service (`kbchat.assistant.Assistant`, through `services.assistant`), which asks ChatGPT only
through the policy gate and the audit log and records the answers with the user's id; the
conversation's history and taint come from `kbchat.conversation`.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Sequence

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app import conversation, services
from app.conversation import ChatTurn
from app.gate_view import render_gate
from app.render import label_markdown, sanitised_stream
from app.side_by_side import WAIT_ICON, new_comparison, stream_comparison, waiting_notice
from kbchat.answering.service import Retrieval, Turn
from kbchat.compare import CompareEvent, CompareRun, Side
from kbchat.conversation import carried_answer
from kbchat.settings import Settings

logger = logging.getLogger(__name__)


def _run(
    turn: ChatTurn, retrieval: Retrieval, earlier: Sequence[Turn], config: Settings
) -> CompareRun:
    """The answering service's run for this turn (the user's, recorded with their id)."""
    run = services.assistant(config).answer(
        retrieval,
        earlier,
        user=services.user(),
        models=turn.choice,
        session=conversation.session_id(),
    )
    turn.compared = run.result  # the conversation's taint sees every answer a model started
    return run


def _stream(run: CompareRun, side: Side, status: DeltaGenerator) -> None:
    """Stream one side of a run into the page; a queued question shows how many wait."""

    def follow(event: CompareEvent) -> None:
        if event.kind == "waiting":
            status.info(waiting_notice(event.text), icon=WAIT_ICON)

    deltas = run.deltas(side, follow)
    try:
        _write(deltas, status)
    finally:
        deltas.close()  # an abandoned answer frees the model at once


def _finish(turn: ChatTurn, run: CompareRun, side: Side) -> None:
    result = run.result
    turn.answer = getattr(result, side)
    turn.answer_id = result.answer_ids.get(side)
    if side in result.errors:
        turn.error = result.errors[side]


def answer_private(
    turn: ChatTurn, retrieval: Retrieval, earlier: Sequence[Turn], config: Settings
) -> None:
    """The private model answers; the service records it in the ledger (thumbs attach)."""
    status = st.empty()
    if retrieval.relevant:
        name = services.answerer(config).backend.model_name
        status.caption(label_markdown(f"{name} is reading the passages…"))
    run = _run(turn, retrieval, earlier, config)
    _stream(run, "private", status)
    _finish(turn, run, "private")


def answer_cloud(
    turn: ChatTurn, retrieval: Retrieval, earlier: Sequence[Turn], config: Settings
) -> None:
    """ChatGPT answers what the gate lets through; withheld passages and redactions are shown
    first. A refusal is kept in ``turn.refused``."""
    run = _run(turn, retrieval, earlier, config)
    gate_area = st.container()  # above the answer; filled once the gate has decided
    status = st.empty()
    if retrieval.relevant:
        status.caption(label_markdown(f"ChatGPT ({config.cloud.cloud_model}) is writing…"))
    deltas = run.deltas("cloud", lambda _event: None)
    try:
        first = next(deltas, None)  # the gate has decided by the cloud side's first event
        turn.decision = run.result.decision
        with gate_area:
            render_gate(run.result.decision)
        if run.result.refused is not None and run.result.cloud is None:
            status.empty()
            turn.refused = run.result.refused
            return

        def written() -> Generator[str, None, None]:
            if first:
                yield first
            yield from deltas

        _write(written(), status)
    finally:
        deltas.close()  # an abandoned answer frees the model at once
    _finish(turn, run, "cloud")


def _write(deltas: Iterator[str], status: DeltaGenerator) -> None:
    """Write an answer's deltas into the page, escaped; the status clears at the first text."""

    def cleared() -> Generator[str, None, None]:
        waiting = True
        for delta in deltas:
            if waiting and delta:
                status.empty()
                waiting = False
            yield delta
        status.empty()

    sanitised = sanitised_stream(cleared())
    try:
        st.write_stream(sanitised)
    finally:
        sanitised.close()


def answer_both(
    turn: ChatTurn, retrieval: Retrieval, earlier: Sequence[Turn], config: Settings
) -> None:
    """Both models side by side, as on the Compare page; the private answer (or ChatGPT's,
    when the private model failed) carries the conversation on."""
    run = _run(turn, retrieval, earlier, config)
    shown = new_comparison(run, config)
    turn.comparison = shown
    stream_comparison(run, shown)
    turn.answer = carried_answer(shown.comparison)
