"""A first-come, first-served lock that knows how many requests wait for it.

llama.cpp is not thread-safe, so each loaded model has one of these: requests are served
in the order they arrived, and a request that has to wait is told how many are ahead of
it (the UI shows "queued").
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


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

    def acquire(self, on_wait: Callable[[int], None] | None = None) -> float:
        """Take the lock, waiting in line if it is held.

        Args:
            on_wait: Called once, before waiting, with the number of requests ahead
                (the holder plus earlier waiters); not called when the lock is free.

        Returns:
            Seconds spent waiting (0.0 when the lock was free).
        """
        start = time.perf_counter()
        with self._mutex:
            if not self._held:
                self._held = True
                return 0.0
            ticket = threading.Event()
            self._waiters.append(ticket)
            ahead = len(self._waiters)  # the holder and the earlier waiters
        try:
            if on_wait is not None:
                on_wait(ahead)
            ticket.wait()
        except BaseException:
            self._abandon(ticket)
            raise
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

    def _abandon(self, ticket: threading.Event) -> None:
        """Leave the line after an interruption; pass the lock on if it was already ours."""
        with self._mutex:
            try:
                self._waiters.remove(ticket)
                return
            except ValueError:
                pass  # already handed to us
        self.release()
