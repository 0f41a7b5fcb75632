"""A comparison abandoned mid-way stops its models."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kbchat.answering.service import Answer, AnswerStream, Retrieval
from kbchat.audit import AuditLog
from kbchat.compare import CompareRun
from kbchat.llm.base import ChatStream
from tests.conftest import make_settings

pytestmark = pytest.mark.unit


class EndlessAnswerer:
    """An answerer with the real stream types whose model never stops writing."""

    label = "private"

    def __init__(self) -> None:
        self.streams: list[ChatStream] = []

    def stream(self, retrieval: Retrieval, *_args: object, **_kwargs: object) -> AnswerStream:
        def body(stream: ChatStream) -> Iterator[str]:
            while not stream.stop_requested:
                time.sleep(0.001)
                yield "x"

        chat = ChatStream(body)
        self.streams.append(chat)
        return AnswerStream(Answer("private", "endless"), chat)


def test_leaving_a_comparison_stops_both_models(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)  # the cloud is off: its side is refused at once
    private = EndlessAnswerer()
    run = CompareRun(
        settings,
        Retrieval("q", [], True, 0.0),
        [],
        private,  # type: ignore[arg-type]
        audit=AuditLog(tmp_path / "audit.sqlite3"),
    )
    seen = []
    events = run.events()
    for event in events:
        seen.append(event)
        if event.kind == "delta":
            break
    events.close()  # the page went away
    deadline = time.monotonic() + 10
    while not all(s.finished for s in private.streams) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert private.streams and all(s.finished for s in private.streams)
    assert any(e.side == "private" and e.kind == "delta" for e in seen)
