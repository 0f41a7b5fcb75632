"""Compare the private and the cloud model on the same question, passages and prompt.

One retrieval; the private model gets every passage, the cloud model what the policy gate
lets through (shown to the user). Both answers stream at the same time from two threads; the
caller reads one interleaved event stream and renders each side as it arrives. A failure on
one side becomes an event for that side; the other answer goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from kbchat.answering.scoring import agreement
from kbchat.answering.service import Answer, Answerer, AnswerStream, Retrieval, Turn
from kbchat.audit import AuditLog
from kbchat.cloud_answer import start_cloud_answer
from kbchat.errors import CloudNotAllowedError, KbchatError
from kbchat.policy.gate import GateDecision
from kbchat.settings import Settings

Side = Literal["private", "cloud"]
EventKind = Literal["waiting", "delta", "done", "error", "refused"]
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompareEvent:
    """Something that happened on one side: text arrived, it finished, failed or was refused."""

    side: Side
    kind: EventKind
    text: str = ""


@dataclass
class Comparison:
    """The result of a comparison."""

    question: str
    retrieval: Retrieval
    private: Answer | None = None
    cloud: Answer | None = None
    decision: GateDecision | None = None
    errors: dict[str, str] = field(default_factory=dict)
    agreement: float | None = None
    wall_s: float = 0.0
    history_confidential: bool = False
    """Whether an earlier exchange of the conversation drew on a confidential passage."""
    user: str | None = None
    """The id of the user it was answered for."""
    refused: str | None = None
    """Why the cloud model was not asked (the policy gate, or the cloud is unavailable)."""
    answer_ids: dict[str, int] = field(default_factory=dict)
    """Ledger ids of the recorded answers, by side (thumbs attach to them)."""
    comparison_id: int | None = None
    """Ledger id of the recorded comparison (judgements attach to it)."""
    record_error: str | None = None
    """Why it could not be recorded in the ledger, if it could not."""


class CompareRun:
    """Runs one model or both on one question; iterate `events()` to follow them.

    Each side streams from its own thread; `close` stops both (a page left mid-answer frees
    the models at once). Build it through `kbchat.assistant.Assistant`, which checks the
    question, retrieves for the user and records the result.

    Args:
        settings: effective settings.
        retrieval: what retrieval found (from the private answerer's `retrieve`).
        history: earlier exchanges.
        private: the private answerer.
        cloud: the cloud answerer (built from settings when ``None``).
        session: UI session id for the audit log.
        audit: the audit log (the configured one when ``None``).
        sides: who answers: ``("private", "cloud")``, or one of them alone.
        user: the id of the user asking (audit log).
        on_complete: called with the result once every side has ended (not when the caller
            stopped reading early).
    """

    def __init__(
        self,
        settings: Settings,
        retrieval: Retrieval,
        history: Sequence[Turn],
        private: Answerer,
        *,
        cloud: Answerer | None = None,
        session: str | None = None,
        audit: AuditLog | None = None,
        sides: Sequence[Side] = ("private", "cloud"),
        user: str | None = None,
        on_complete: Callable[[Comparison], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sides = tuple(sides)
        self.user = user
        self._on_complete = on_complete
        self.history = list(history)
        self.private = private
        self.cloud = cloud
        self.session = session
        self.audit = audit
        self.result = Comparison(
            retrieval.question,
            retrieval,
            history_confidential=any(t.used_confidential for t in history),
            user=user,
        )
        self._events: queue.Queue[CompareEvent | None] = queue.Queue()
        self._streams: list[AnswerStream] = []
        self._closed = threading.Event()

    def _track(self, stream: AnswerStream) -> AnswerStream:
        self._streams.append(stream)
        if self._closed.is_set():
            stream.close()
        return stream

    def close(self) -> None:
        """Stop both answers (a comparison abandoned mid-way frees the models at once)."""
        self._closed.set()
        for stream in list(self._streams):
            stream.close()

    def _run_private(self) -> None:
        try:

            def waiting(ahead: int) -> None:
                self._events.put(CompareEvent("private", "waiting", str(ahead)))

            stream = self._track(
                self.private.stream(self.result.retrieval, self.history, on_wait=waiting)
            )
            self.result.private = stream.answer
            for delta in stream:
                self._events.put(CompareEvent("private", "delta", delta))
            self._events.put(CompareEvent("private", "done"))
        except Exception as err:  # noqa: BLE001 - shown in this side's column, never raised
            self._fail("private", err)

    def _run_cloud(self) -> None:
        try:
            request = start_cloud_answer(
                self.settings,
                self.result.retrieval,
                self.history,
                answerer=self.cloud,
                session=self.session,
                user=self.user,
                audit=self.audit,
            )
            self.result.decision = request.decision
            if request.stream is None:
                self._refuse(request.refused or "")
                return
            self.result.cloud = request.stream.answer
            for delta in self._track(request.stream):
                self._events.put(CompareEvent("cloud", "delta", delta))
            self._events.put(CompareEvent("cloud", "done"))
        except Exception as err:  # noqa: BLE001 - shown in this side's column, never raised
            self._fail("cloud", err)

    def _refuse(self, reason: str) -> None:
        self.result.refused = reason
        self._events.put(CompareEvent("cloud", "refused", reason))

    def _fail(self, side: Side, err: Exception) -> None:
        if side == "cloud" and isinstance(err, CloudNotAllowedError):
            self._refuse(str(err))  # the gate's last check stopped the prompt
            return
        if isinstance(err, KbchatError):
            message = str(err)
        else:
            _LOG.exception("%s answer failed", side)
            message = f"The {side} model failed unexpectedly ({type(err).__name__})."
        self.result.errors[side] = message
        self._events.put(CompareEvent(side, "error", message))

    def events(self) -> Generator[CompareEvent, None, None]:
        """Start the answers and yield their events as they come, until every side has ended."""
        started = time.perf_counter()
        bodies = {"private": self._run_private, "cloud": self._run_cloud}
        workers = [
            threading.Thread(target=self._finish_after, args=(bodies[side],), daemon=True)
            for side in self.sides
        ]
        for worker in workers:
            worker.start()
        running = len(workers)
        try:
            while running:
                event = self._events.get()
                if event is None:
                    running -= 1
                    continue
                yield event
        finally:
            if running:  # the caller stopped reading: stop the models too
                self.close()
        self.result.wall_s = time.perf_counter() - started
        private, cloud = self.result.private, self.result.cloud
        if private and cloud and private.answered_by_model and cloud.answered_by_model:
            embedder = self.private.index.embedder
            self.result.agreement = agreement(private.text, cloud.text, embedder)
        if self._on_complete is not None:
            self._on_complete(self.result)

    def __iter__(self) -> Iterator[CompareEvent]:
        return self.events()

    def deltas(
        self, side: Side, on_event: Callable[[CompareEvent], None]
    ) -> Generator[str, None, None]:
        """The text of one side as it is written (for a single-model run); every event,
        that side's text included, also goes to ``on_event``."""
        events = self.events()
        try:
            for event in events:
                on_event(event)
                if event.side == side and event.kind == "delta":
                    yield event.text
        finally:
            events.close()  # stops the model when the reader left early

    def _finish_after(self, body: Callable[[], None]) -> None:
        try:
            body()
        finally:
            self._events.put(None)

    def run(self) -> Comparison:
        """Run to the end without following the events."""
        for _ in self.events():
            pass
        return self.result
