"""The two-column view: the private model and ChatGPT answering one question side by side.

Used by the Compare page and by "Both side by side" in the chat. While both answers stream
(from `kbchat.compare.CompareRun`'s threads), the script thread drains the run's events and
writes each side into its own column as text arrives; then, and on every rerun, the same
columns show each answer's figures and passages, with the agreement and the judgement form
below. A failure or refusal on one side shows in that side's column only.
"""

from __future__ import annotations

import logging
import time

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app import services
from app.answer_view import render_answer_details
from app.comparisons import SIDES, TITLES, ShownComparison, Side
from app.gate_view import render_gate
from app.judgement import render_footer
from app.render import AnswerSanitiser, answer_markdown, label_markdown
from kbchat.compare import CompareEvent, CompareRun
from kbchat.settings import Settings

logger = logging.getLogger(__name__)

REDRAW_S = 0.1  # at most this often a column's text is sent to the browser while streaming
WAIT_ICON = ":material/hourglass_top:"


def waiting_notice(ahead: int | str) -> str:
    """What a question queued for the model shows (the model may also be loading)."""
    return f"Waiting for the model: {ahead} request(s) ahead (questions, or the model loading)."


INTERRUPTED = "The answers were interrupted before they were complete."
NO_CLOUD = "ChatGPT is not available."
NO_ANSWER = "No answer."


class _Column:
    """One side's place on the page: title, model, status line, answer text, details."""

    def __init__(self, side: Side, shown: ShownComparison) -> None:
        self.side = side
        st.markdown(f"#### {TITLES[side]}")
        st.caption(label_markdown(f"Model: {shown.models[side]}"))
        if side == "private" and shown.private_notice:
            st.caption(answer_markdown(shown.private_notice))
        self.status = st.empty()
        self.body = st.empty()
        self.details = st.container()
        self._sanitiser = AnswerSanitiser()
        self._text = ""
        self._drawn = 0.0
        self._dirty = False

    def apply(self, event: CompareEvent) -> None:
        """Show one event of this side: waiting, text, or the end (done, error, refused)."""
        if event.kind == "waiting":
            self.status.info(waiting_notice(event.text), icon=WAIT_ICON)
        elif event.kind == "delta":
            if not self._text:
                self.status.empty()
            self._text += self._sanitiser.feed(event.text)
            self._dirty = True
            if time.monotonic() - self._drawn >= REDRAW_S:
                self.flush()
        else:
            self.status.empty()
            self.flush()

    def flush(self) -> None:
        """Send the text received so far to the browser."""
        if self._dirty:
            self.body.markdown(self._text)
            self._dirty = False
            self._drawn = time.monotonic()


def _columns(shown: ShownComparison) -> dict[Side, _Column]:
    """Two bordered columns (private | ChatGPT), or the private one alone."""
    if not shown.cloud_offered:
        return {"private": _Column("private", shown)}
    slots = st.columns(2, gap="medium", border=True)
    columns: dict[Side, _Column] = {}
    for side, slot in zip(SIDES, slots, strict=True):
        with slot:
            columns[side] = _Column(side, shown)
    return columns


def render_outcome(side: Side, shown: ShownComparison) -> None:
    """Under a side's text: its refusal or error, or its figures and passages."""
    comparison = shown.comparison
    answer = getattr(comparison, side)
    error = comparison.errors.get(side)
    if side == "cloud" and shown.refused is not None:
        st.warning(
            label_markdown(f"ChatGPT was not asked: {shown.refused}"), icon=":material/lock:"
        )
        return
    if error is not None:
        st.error(label_markdown(f"{TITLES[side]} failed: {error}"))
        if answer is not None and answer.text.strip():
            st.caption("Above is what it wrote before it failed.")
        return
    if answer is None:
        st.caption(NO_ANSWER)
        return
    render_answer_details(answer, key=f"{shown.uid}-{side}", model_line=False)


def new_comparison(run: CompareRun, config: Settings) -> ShownComparison:
    """How a run of the answering service is shown, with the names of the models that will
    answer (ChatGPT's column only when the cloud was offered)."""
    private = services.answerer(config)
    stand_in = " (stand-in)" if private.fallback else ""
    return ShownComparison(
        comparison=run.result,  # filled in place as the answers come
        models={
            "private": f"{private.backend.model_name}{stand_in}",
            "cloud": config.cloud.cloud_model,
        },
        private_notice=private.notice if private.fallback else None,
        unavailable=None if "cloud" in run.sides else run.result.refused or NO_CLOUD,
    )


def _drain(
    run: CompareRun, shown: ShownComparison, gate_slot: DeltaGenerator, columns: dict[Side, _Column]
) -> None:
    """Show the run's events as they come; the gate's decision as soon as it is known."""
    gate_drawn = False
    for side, column in columns.items():
        column.status.caption(label_markdown(f"{shown.models[side]} is reading the passages…"))
    for event in run.events():
        if not gate_drawn and run.result.decision is not None:
            with gate_slot:
                render_gate(run.result.decision)
            gate_drawn = True
        if event.kind == "refused":
            shown.refused = event.text
        columns[event.side].apply(event)
    if not gate_drawn and shown.cloud_offered:
        with gate_slot:
            render_gate(run.result.decision)


def stream_comparison(run: CompareRun, shown: ShownComparison) -> None:
    """Stream a run's answers into their columns (both, or the private one alone when the
    cloud is unavailable), then show the figures, the agreement and the judgement form. The
    answering service records the result (with the user's id) when both have ended.

    Args:
        run: the answering service's run (`kbchat.assistant.Assistant.answer`).
        shown: where the result is kept (from `new_comparison`).
    """
    gate_slot = st.container()  # above the columns; filled once the gate has decided
    columns = _columns(shown)
    try:
        _drain(run, shown, gate_slot, columns)
    finally:
        run.close()  # no-op when both finished; frees the models when abandoned
    for column in columns.values():
        column.flush()
    shown.finished = True
    shown.comparison_id = run.result.comparison_id
    shown.record_error = run.result.record_error
    for side, column in columns.items():
        with column.details:
            render_outcome(side, shown)
    render_footer(shown)


def render_comparison(shown: ShownComparison) -> None:
    """A comparison shown again on a rerun: what the gate withheld, both columns, the footer."""
    if shown.cloud_offered:
        render_gate(shown.comparison.decision)
    columns = _columns(shown)
    for side, column in columns.items():
        answer = getattr(shown.comparison, side)
        if answer is not None and answer.text:
            column.body.markdown(answer_markdown(answer.text))
        with column.details:
            render_outcome(side, shown)
    if not shown.finished:
        st.warning(INTERRUPTED)
    render_footer(shown)
