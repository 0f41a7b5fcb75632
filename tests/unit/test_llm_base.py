"""The backend interface's plain parts: stats arithmetic, the stream wrapper, the fair lock."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import pytest

from kbchat.llm.base import ChatMessage, ChatStream, GenerationStats
from kbchat.llm.locking import FairLock

pytestmark = pytest.mark.unit


def _stats(**overrides: object) -> GenerationStats:
    values: dict[str, object] = {
        "model": "m",
        "tokens_in": 10,
        "tokens_out": 20,
        "ttft_s": 0.5,
        "seconds": 2.5,
        "queued_s": 1.0,
    }
    values.update(overrides)
    return GenerationStats(**values)  # type: ignore[arg-type]


def test_tokens_per_s_is_the_decode_rate_after_the_first_token() -> None:
    stats = _stats()
    assert stats.tokens_per_s == pytest.approx(20 / 2.0)
    assert stats.total_s == pytest.approx(3.5)


@pytest.mark.parametrize(
    "overrides",
    [
        {"ttft_s": None, "tokens_out": 0},  # no text came
        {"tokens_out": 0},
        {"ttft_s": 2.5},  # everything arrived at once: no decode time to divide by
        {"ttft_s": 3.0},
    ],
)
def test_tokens_per_s_is_none_when_not_measurable(overrides: dict[str, object]) -> None:
    assert _stats(**overrides).tokens_per_s is None


def test_chat_message_is_frozen() -> None:
    message = ChatMessage("user", "hi")
    with pytest.raises(AttributeError):
        message.content = "changed"  # type: ignore[misc]


class _Body:
    """A backend body that records whether its cleanup ran."""

    def __init__(self, deltas: list[str]) -> None:
        self.deltas = deltas
        self.released = threading.Event()
        self.started = threading.Event()

    def __call__(self, stream: ChatStream) -> Iterator[str]:
        self.started.set()
        sent = 0
        try:
            for delta in self.deltas:
                if stream.stop_requested:
                    break
                sent += 1
                yield delta
        finally:
            stream.set_stats(_stats(tokens_out=sent))
            self.released.set()


def test_stream_collects_text_and_stats() -> None:
    body = _Body(["Hel", "lo", "!"])
    stream = ChatStream(body)
    assert stream.stats is None
    assert list(stream) == ["Hel", "lo", "!"]
    assert stream.text == "Hello!"
    assert stream.finished
    assert stream.stats is not None and stream.stats.tokens_out == 3
    assert body.released.is_set()
    assert list(stream) == []  # exhausted stays exhausted


def test_close_stops_early_and_runs_cleanup() -> None:
    body = _Body(["a", "b", "c"])
    with ChatStream(body) as stream:
        assert next(stream) == "a"
    assert body.released.is_set()
    assert stream.finished and stream.text == "a"
    assert stream.stats is not None and stream.stats.tokens_out == 1
    stream.close()  # twice is fine


def test_dropped_stream_runs_cleanup() -> None:
    body = _Body(["a", "b"])
    stream = ChatStream(body)
    next(stream)
    del stream
    gc.collect()
    assert body.released.is_set()


def test_close_from_another_thread_stops_at_next_delta() -> None:
    gate = threading.Event()

    def body(stream: ChatStream) -> Iterator[str]:
        try:
            for i in range(1000):
                if stream.stop_requested:
                    return
                if i == 1:
                    gate.set()
                    time.sleep(0.2)  # "generating" while the other thread closes
                yield str(i)
        finally:
            stream.set_stats(_stats())

    stream = ChatStream(body)

    def close_when_generating() -> None:
        gate.wait()
        stream.close()

    closer = threading.Thread(target=close_when_generating)
    closer.start()
    received = list(stream)
    closer.join()
    assert len(received) < 10
    assert stream.stop_requested and stream.stats is not None


def test_fair_lock_serves_in_arrival_order_and_reports_the_queue() -> None:
    lock = FairLock()
    assert lock.acquire() == 0.0
    order: list[int] = []
    waits: dict[int, int] = {}
    threads = []
    for i in range(4):

        def run(i: int = i) -> None:
            def record(ahead: int) -> None:
                waits[i] = ahead

            queued = lock.acquire(record)
            assert queued > 0
            order.append(i)
            lock.release()

        thread = threading.Thread(target=run)
        thread.start()
        while lock.waiting < i + 1:  # make the arrival order certain
            time.sleep(0.001)
        threads.append(thread)
    time.sleep(0.05)
    lock.release()
    for thread in threads:
        thread.join(timeout=5)
    assert order == [0, 1, 2, 3]
    assert waits == {0: 1, 1: 2, 2: 3, 3: 4}
    assert not lock.locked and lock.waiting == 0


def test_fair_lock_waiter_that_gives_up_leaves_the_line() -> None:
    lock = FairLock()
    lock.acquire()

    def impatient(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lock.acquire(impatient)
    assert lock.waiting == 0
    lock.release()
    assert not lock.locked
    with pytest.raises(RuntimeError):
        lock.release()
