"""One object per key for the whole process: the shared index, embedder, ledger, model…

Heavy or stateful objects (an open SQLite file, a loaded model) must exist once per process
for the settings that shape them, whoever asks for them first (the UI's threads, the CLI).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class PerProcess(Generic[K, V]):
    """A thread-safe registry that builds each key's object once, on its first request."""

    def __init__(self) -> None:
        """An empty registry."""
        self._items: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K, build: Callable[[], V]) -> V:
        """The object of ``key``, built by ``build`` if this is the first request for it.

        ``build`` runs under the registry's lock, so two threads never build the same key.
        """
        with self._lock:
            item = self._items.get(key)
            if item is None:
                item = self._items[key] = build()
            return item
