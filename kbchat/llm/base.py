"""The one interface every chat model answers through, and what a streamed answer reports.

A backend (llama.cpp in-process, an OpenAI-compatible server) implements `ChatBackend`;
callers budget the context with `count_messages`, then iterate the `ChatStream` that
`stream_chat` returns and read `stream.stats` when it is exhausted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a chat: who speaks and what they say."""

    role: Role
    content: str


@dataclass
class GenerationStats:
    """What one answer cost and how fast it came.

    All times are wall-clock seconds. ``queued_s`` is the time spent waiting for the model
    (another request was being answered); ``ttft_s`` and ``seconds`` are measured from the
    moment the request was served (after the queue), so the latency a user felt is
    ``queued_s + seconds``.

    Attributes:
        model: Display name of the model that answered.
        tokens_in: Tokens of the formatted prompt (chat template included).
        tokens_out: Tokens generated.
        ttft_s: Time to the first text delta; None when no text came.
        seconds: Time from the start of serving to the last token.
        queued_s: Time spent waiting before serving started.
        tokens_estimated: True when the token counts are estimates (the server sent none).
        cached_tokens: Tokens of the prompt that were not evaluated for this answer because
            the model held them already (the constant start of the prompt, kept between
            questions); ``tokens_in - cached_tokens`` were evaluated. 0 for a model behind a
            server (the server does not say).
    """

    model: str
    tokens_in: int
    tokens_out: int
    ttft_s: float | None
    seconds: float
    queued_s: float
    tokens_estimated: bool = False
    cached_tokens: int = 0

    @property
    def tokens_per_s(self) -> float | None:
        """Decode rate: ``tokens_out / (seconds - ttft_s)``; None when it cannot be measured."""
        if self.ttft_s is None or self.tokens_out <= 0:
            return None
        decode_s = self.seconds - self.ttft_s
        if decode_s <= 0:
            return None
        return self.tokens_out / decode_s

    @property
    def total_s(self) -> float:
        """Latency the user felt: queueing plus serving."""
        return self.queued_s + self.seconds


StreamBody = Callable[["ChatStream"], Iterator[str]]
"""A backend's generator: yields text deltas, checks `ChatStream.stop_requested` between
tokens and calls `ChatStream.set_stats` (also when stopped early, from its ``finally``)."""


class ChatStream:
    """An iterator of text deltas of one answer.

    After it is exhausted, ``stats`` holds the `GenerationStats` and ``text`` the whole
    answer. ``close()`` stops generation early and frees the model for the next request;
    it may be called from another thread (the generator then stops at its next token).
    A stream that is dropped without being exhausted or closed is closed when it is
    garbage-collected. It is also a context manager that closes on exit.
    """

    def __init__(self, body: StreamBody) -> None:
        """Wrap a backend generator.

        Args:
            body: Called once with this stream; returns the generator of text deltas.
        """
        self._parts: list[str] = []
        self._stats: GenerationStats | None = None
        self._stop = threading.Event()
        self._finished = False
        self._iter = body(self)

    @property
    def text(self) -> str:
        """The text received so far (the whole answer once exhausted)."""
        return "".join(self._parts)

    @property
    def stats(self) -> GenerationStats | None:
        """Statistics of the answer; set when the stream is exhausted or closed after starting."""
        return self._stats

    @property
    def stop_requested(self) -> bool:
        """True once ``close()`` was called; backends stop at their next token."""
        return self._stop.is_set()

    @property
    def finished(self) -> bool:
        """True when the stream is exhausted or closed."""
        return self._finished

    def set_stats(self, stats: GenerationStats) -> None:
        """Record the answer's statistics (called by the backend)."""
        self._stats = stats

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> str:
        if self._finished:
            raise StopIteration
        try:
            delta = next(self._iter)
        except BaseException:
            self._finished = True
            raise
        self._parts.append(delta)
        return delta

    def close(self) -> None:
        """Stop generating and release the model; safe to call more than once."""
        self._stop.set()
        close = getattr(self._iter, "close", None)
        if close is None:
            self._finished = True
            return
        try:
            close()
        except ValueError:
            # The generator is running in another thread: it sees the stop flag at its
            # next token, finishes there and releases the model itself.
            return
        self._finished = True

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


OnWait = Callable[[int], None]
"""Called with the number of requests ahead when a request has to wait for the model."""


@runtime_checkable
class ChatBackend(Protocol):
    """A chat model: the private one or the cloud one answer through this interface."""

    model_name: str
    """What the UI shows as the answering model."""

    context_window: int
    """Tokens the model takes in (prompt and answer together)."""

    def warm_up(self, system_prompt: str | None = None) -> None:
        """Get ready now rather than on the first question: load, read ``system_prompt``."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of a plain text, without any chat template."""
        ...

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens the formatted chat prompt takes, template tokens included."""
        ...

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        on_wait: OnWait | None = None,
    ) -> ChatStream:
        """Start answering; iterate the returned stream for the text deltas."""
        ...
