"""The two-column view: the private model and ChatGPT answering one question side by side.

Used by the Compare page and by "Both side by side" in the chat. While both answers stream
(from `kbchat.compare.CompareRun`'s threads), the script thread drains the run's events and
writes each side into its own column as text arrives; then, and on every rerun, the same
columns show each answer's figures and passages, with the agreement and the judgement form
below. A failure or refusal on one side shows in that side's column only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, cast

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app import conversation, services
from app.answer_view import render_answer_details
from app.comparisons import SIDES, TITLES, ShownComparison, Side
from app.gate_view import render_gate
from app.judgement import render_footer
from app.render import AnswerSanitiser, answer_markdown, label_markdown
from kbchat.answering.service import Answerer, AnswerStream, Retrieval, Turn
from kbchat.compare import CompareEvent, CompareRun, Comparison
from kbchat.errors import KbchatError
from kbchat.judging import judge_in_background
from kbchat.settings import Settings

logger = logging.getLogger(__name__)

REDRAW_S = 0.1  # at most this often a column's text is sent to the browser while streaming
WAIT_ICON = ":material/hourglass_top:"


def waiting_notice(ahead: int | str) -> str:
    """What a question queued for the model shows (the model may also be loading)."""
    return f"Waiting for the model: {ahead} request(s) ahead (questions, or the model loading)."


INTERRUPTED = "The answers were interrupted before they were complete."
NO_ANSWER = "No answer."


class StreamTracker:
    """Keeps the answer streams a comparison starts, so that an abandoned run stops them.

    `CompareRun` streams from its own threads and offers no way to stop them; when the page is
    left mid-answer (a rerun, another page), `close_all` stops every stream, so the private
    model is free for the next question at once. A stream started after that is stopped too.
    """

    def __init__(self) -> None:
        self._streams: list[AnswerStream] = []
        self._closed = False
        self._lock = threading.Lock()

    def wrap(self, answerer: Answerer) -> Answerer:
        """The answerer, with every stream it starts kept here."""
        return cast(Answerer, _TrackedAnswerer(answerer, self))

    def add(self, stream: AnswerStream) -> None:
        """Keep a stream (stop it at once when the run was already abandoned)."""
        with self._lock:
            self._streams.append(stream)
            closed = self._closed
        if closed:
            stream.close()

    def close_all(self) -> None:
        """Stop every stream (a no-op for those that finished); safe to call twice."""
        with self._lock:
            self._closed = True
            streams = list(self._streams)
        for stream in streams:
            stream.close()


class _TrackedAnswerer:
    """An `Answerer` whose streams a `StreamTracker` keeps; everything else is the inner one's."""

    def __init__(self, inner: Answerer, tracker: StreamTracker) -> None:
        self._inner = inner
        self._tracker = tracker

    def stream(self, *args: Any, **kwargs: Any) -> AnswerStream:
        stream = self._inner.stream(*args, **kwargs)
        self._tracker.add(stream)
        return stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


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


def new_comparison(
    retrieval: Retrieval, config: Settings, unavailable: str | None
) -> ShownComparison:
    """A comparison about to run, with the names of the models that will answer."""
    private = services.answerer(config)
    stand_in = " (stand-in)" if private.fallback else ""
    return ShownComparison(
        comparison=Comparison(retrieval.question, retrieval),
        models={
            "private": f"{private.backend.model_name}{stand_in}",
            "cloud": config.cloud.cloud_model,
        },
        private_notice=private.notice if private.fallback else None,
        unavailable=unavailable,
    )


def _record(shown: ShownComparison) -> None:
    comparison = shown.comparison
    ledger = services.ledger()
    try:
        if shown.cloud_offered:
            shown.comparison_id = ledger.record_comparison(
                comparison, session=conversation.session_id()
            )
            # KBCHAT_JUDGE_AUTO: the judge rates it in the background (through the gate)
            judge_in_background(
                services.effective(), shown.comparison_id, session=conversation.session_id()
            )
        elif comparison.private is not None and "private" not in comparison.errors:
            ledger.record_answer(
                comparison.question,
                comparison.private,
                session=conversation.session_id(),
                retrieval_s=comparison.retrieval.seconds,
            )
    except Exception:  # the answers stand even if the ledger is unavailable
        logger.exception("Could not record the comparison in the ledger")
        shown.record_error = "The comparison could not be recorded; the details are logged."


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
    if not gate_drawn:
        with gate_slot:
            render_gate(run.result.decision)


def stream_both(
    retrieval: Retrieval, history: Sequence[Turn], config: Settings, shown: ShownComparison
) -> None:
    """Ask both models at once and stream their answers into two columns, then show the
    figures, the agreement and the judgement form; the comparison goes to the ledger.

    Args:
        retrieval: the passages found (the same for both models).
        history: earlier exchanges (the gate keeps confidential ones from ChatGPT).
        config: effective settings.
        shown: where the result is kept (from `new_comparison`).
    """
    tracker = StreamTracker()
    run = CompareRun(
        config,
        retrieval,
        history,
        tracker.wrap(services.answerer(config)),
        cloud=tracker.wrap(services.cloud_answerer(config)),
        session=conversation.session_id(),
    )
    shown.comparison = run.result  # filled in place as the answers come
    gate_slot = st.container()  # above the columns; filled once the gate has decided
    columns = _columns(shown)
    try:
        _drain(run, shown, gate_slot, columns)
    finally:
        tracker.close_all()  # no-op when both finished; frees the models when abandoned
    for column in columns.values():
        column.flush()
    _finish(shown, columns)


def stream_private(
    retrieval: Retrieval, history: Sequence[Turn], config: Settings, shown: ShownComparison
) -> None:
    """Only the private model answers (ChatGPT is unavailable): one column."""
    column = _columns(shown)["private"]
    column.status.caption(label_markdown(f"{shown.models['private']} is reading the passages…"))

    def waiting(ahead: int) -> None:
        column.apply(CompareEvent("private", "waiting", str(ahead)))

    try:
        stream = services.answerer(config).stream(retrieval, history, on_wait=waiting)
        shown.comparison.private = stream.answer
        try:
            for delta in stream:
                column.apply(CompareEvent("private", "delta", delta))
        finally:
            stream.close()
    except KbchatError as err:
        shown.comparison.errors["private"] = str(err)
    column.apply(CompareEvent("private", "done"))
    _finish(shown, {"private": column})


def _finish(shown: ShownComparison, columns: dict[Side, _Column]) -> None:
    shown.finished = True
    _record(shown)
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
