"""The model queue's limits: a request behind a stuck one gives up, a full queue refuses."""

from __future__ import annotations

import threading
import time

import pytest

from kbchat.errors import ModelError
from kbchat.llm.locking import FairLock, ModelBusyError

pytestmark = pytest.mark.unit


def test_a_request_behind_a_stuck_one_is_told_the_model_is_busy() -> None:
    lock = FairLock()
    lock.acquire()  # the stuck request never releases
    start = time.perf_counter()
    with pytest.raises(ModelBusyError) as caught:
        lock.acquire(timeout_s=0.2)
    waited = time.perf_counter() - start
    assert 0.2 <= waited < 5
    assert isinstance(caught.value, ModelError)  # every front end shows model errors
    message = str(caught.value)
    assert "busy" in message and "try again" in message.lower()
    assert "KBCHAT_MODEL_QUEUE_TIMEOUT_S" in message
    assert lock.waiting == 0  # it left the line
    lock.release()
    assert not lock.locked


def test_the_lock_still_hands_over_in_order_after_a_waiter_timed_out() -> None:
    lock = FairLock()
    lock.acquire()
    served: list[str] = []

    def patient() -> None:
        lock.acquire(timeout_s=10)
        served.append("patient")
        lock.release()

    with pytest.raises(ModelBusyError):
        lock.acquire(timeout_s=0.05)
    thread = threading.Thread(target=patient)
    thread.start()
    while lock.waiting < 1:
        time.sleep(0.001)
    lock.release()
    thread.join(timeout=5)
    assert served == ["patient"]
    assert not lock.locked and lock.waiting == 0


def test_a_full_queue_refuses_at_once() -> None:
    lock = FairLock()
    lock.acquire()
    waiters = [threading.Thread(target=lambda: (lock.acquire(), lock.release())) for _ in range(2)]
    for thread in waiters:
        thread.start()
    while lock.waiting < 2:
        time.sleep(0.001)
    start = time.perf_counter()
    with pytest.raises(ModelBusyError) as caught:
        lock.acquire(timeout_s=30, max_waiting=2)
    assert time.perf_counter() - start < 1  # refused, not queued
    assert "KBCHAT_MODEL_QUEUE_MAX" in str(caught.value)
    assert lock.waiting == 2
    lock.release()
    for thread in waiters:
        thread.join(timeout=5)
    assert not lock.locked and lock.waiting == 0


def test_a_free_lock_ignores_the_limits() -> None:
    lock = FairLock()
    assert lock.acquire(timeout_s=0.01, max_waiting=1) == 0.0
    lock.release()


def test_the_private_model_answers_busy_behind_a_stuck_request() -> None:
    from kbchat.llm.base import ChatMessage
    from tests.fixtures.llm_backends import smollm2_backend

    backend = smollm2_backend(queue_timeout_s=0.3, queue_max=4)
    backend.shared.lock.acquire()  # a request that never finishes
    try:
        waits: list[int] = []
        stream = backend.stream_chat(
            [ChatMessage("user", "Hello?")], max_tokens=4, temperature=0.0, on_wait=waits.append
        )
        with pytest.raises(ModelBusyError, match="busy"):
            list(stream)
        assert waits == [1]
    finally:
        backend.shared.lock.release()
    assert not backend.shared.lock.locked
