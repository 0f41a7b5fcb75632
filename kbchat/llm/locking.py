"""A first-come, first-served lock that knows how many requests wait for it.

llama.cpp is not thread-safe, so each loaded model has one of these: requests are served
in the order they arrived, and a request that has to wait is told how many are ahead of
it (the UI shows "queued").

A request need not wait forever behind a stuck one: `FairLock.acquire` takes a wait limit
and a cap on the queue's length, and raises `ModelBusyError` (a `ModelError`, so every front
end shows it like any other model failure) when either is reached.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from kbchat.errors import ModelError


class ModelBusyError(ModelError):
    """The model is busy: the queue is full, or a request waited longer than allowed."""


class FairLock:
    """A FIFO lock: waiters are woken in arrival order, never overtaken."""

    def __init__(self) -> None:
        """Create an unlocked lock."""
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    @property
    def waiting(self) -> int:
        """Number of callers currently waiting (not counting the holder)."""
        with self._mutex:
            return len(self._waiters)

    @property
    def locked(self) -> bool:
        """True while someone holds the lock."""
        with self._mutex:
            return self._held

    def acquire(
        self,
        on_wait: Callable[[int], None] | None = None,
        *,
        timeout_s: float | None = None,
        max_waiting: int | None = None,
    ) -> float:
        """Take the lock, waiting in line if it is held.

        Args:
            on_wait: Called once, before waiting, with the number of requests ahead
                (the holder plus earlier waiters); not called when the lock is free.
            timeout_s: Longest wait; None waits as long as it takes.
            max_waiting: Most requests that may wait at once; a request that would be one
                more is refused at once. None means no cap.

        Returns:
            Seconds spent waiting (0.0 when the lock was free).

        Raises:
            ModelBusyError: The queue is full, or the lock was not handed over within
                ``timeout_s`` (the request has left the line).
        """
        start = time.perf_counter()
        with self._mutex:
            if not self._held:
                self._held = True
                return 0.0
            if max_waiting is not None and len(self._waiters) >= max_waiting:
                raise ModelBusyError(
                    f"The model is busy: {len(self._waiters)} requests are already waiting "
                    f"for it (the most allowed, KBCHAT_MODEL_QUEUE_MAX). Try again in a minute."
                )
            ticket = threading.Event()
            self._waiters.append(ticket)
            ahead = len(self._waiters)  # the holder and the earlier waiters
        try:
            if on_wait is not None:
                on_wait(ahead)
            granted = ticket.wait(timeout_s)
        except BaseException:
            self._abandon(ticket)
            raise
        if not granted and self._leave(ticket):
            raise ModelBusyError(
                f"The model is busy: this request waited {timeout_s:g} s behind others "
                "without being served (KBCHAT_MODEL_QUEUE_TIMEOUT_S). Try again in a few "
                "minutes."
            )
        return time.perf_counter() - start

    def release(self) -> None:
        """Hand the lock to the next waiter, or free it.

        Raises:
            RuntimeError: If the lock is not held.
        """
        with self._mutex:
            if not self._held:
                raise RuntimeError("release of an unlocked FairLock")
            if self._waiters:
                # Ownership passes straight to the next in line: nobody can overtake it.
                self._waiters.popleft().set()
            else:
                self._held = False

    def _leave(self, ticket: threading.Event) -> bool:
        """Leave the line after a timeout; False when the lock was handed over meanwhile."""
        with self._mutex:
            try:
                self._waiters.remove(ticket)
            except ValueError:
                return False  # granted between the timeout and now: it is ours
            return True

    def _abandon(self, ticket: threading.Event) -> None:
        """Leave the line after an interruption; pass the lock on if it was already ours."""
        with self._mutex:
            try:
                self._waiters.remove(ticket)
                return
            except ValueError:
                pass  # already handed to us
        self.release()
