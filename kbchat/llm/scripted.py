"""A scripted chat model: deterministic answers from the prompt, no model file, no wait.

For trying kbchat's wiring (the pages, compare, the gate, the ledger) where what a model would
say does not matter, only that an answer comes, cites and streams: tests and demos select it
with ``KBCHAT_LOCAL_ENGINE=scripted``. It implements the real `ChatBackend` interface, so
everything around it (budgeting, streaming, stopping, statistics) runs as with a real model.

What it says, given the chat `kbchat.answering.prompt.build_messages` writes:

- with passages: the first sentence of each of the first two passages the prompt shows, each
  followed by its citation (``… [1] … [2]``);
- without: `NOT_COVERED`, the phrase a grounded model uses when the documents are silent;
- with ``replies`` given: those texts in turn (the last one repeats), whatever the prompt.

Tokens are words and punctuation marks (a regular expression), so counts are exact and the
same on every machine.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence

from kbchat.llm.base import ChatMessage, ChatStream, GenerationStats, OnWait

MODEL_NAME = "scripted"
NOT_COVERED = "The documents do not cover this."
TEMPLATE_TOKENS = 4  # per message: role markers, as a chat template adds them
_TOKEN = re.compile(r"\w+|[^\w\s]")
_PIECE = re.compile(r"\S+\s*")
# Attribute values are quoted and may hold ">" (a section path "Policy > Leave").
_PASSAGE = re.compile(r'<passage n="(\d+)"(?: [\w-]+="[^"]*")*>\n(.*?)\n</passage>', re.DOTALL)
_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)", re.DOTALL)


def first_sentence(text: str) -> str:
    """The first sentence of a text (all of it when it has no sentence end), on one line."""
    flat = " ".join(text.split())
    found = _SENTENCE.match(flat)
    return found.group(1) if found else flat


def grounded_reply(messages: Sequence[ChatMessage], passages: int = 2) -> str:
    """What the scripted model says to a chat: the first sentence of the leading passages of
    the last user turn, each with its citation, or `NOT_COVERED` when it has none."""
    last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    found = _PASSAGE.findall(last_user)[:passages]
    if not found:
        return NOT_COVERED
    return " ".join(f"{first_sentence(text).rstrip('.')} [{n}]." for n, text in found)


class ScriptedBackend:
    """A `ChatBackend` that answers from the prompt by rule (see the module's docstring).

    Args:
        replies: fixed answers, given in turn (the last one repeats); None answers by rule.
        context_window: tokens it says it takes in.
        display_name: the name the UI shows.
    """

    def __init__(
        self,
        replies: Sequence[str] | None = None,
        *,
        context_window: int = 4096,
        display_name: str = MODEL_NAME,
    ) -> None:
        self.model_name = display_name
        self.context_window = context_window
        self._replies = list(replies or ())
        self._served = 0
        self._lock = threading.Lock()
        self.requests: list[list[ChatMessage]] = []
        """Every chat it was asked to answer, in order (what a test reads back)."""

    def warm_up(self, system_prompt: str | None = None) -> None:
        """Nothing to load."""

    def count_tokens(self, text: str) -> int:
        """Words and punctuation marks."""
        return len(_TOKEN.findall(text))

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of every message, plus `TEMPLATE_TOKENS` each for the template."""
        return sum(self.count_tokens(m.content) + TEMPLATE_TOKENS for m in messages)

    def _reply(self, messages: Sequence[ChatMessage]) -> str:
        with self._lock:
            self.requests.append(list(messages))
            if not self._replies:
                return grounded_reply(messages)
            reply = self._replies[min(self._served, len(self._replies) - 1)]
            self._served += 1
            return reply

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        on_wait: OnWait | None = None,
    ) -> ChatStream:
        """Stream the reply a word at a time, stopping at ``max_tokens`` or on ``close()``.

        Raises:
            ValueError: when ``max_tokens`` is below 1 (as a real backend refuses it).
        """
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
        reply = self._reply(messages)
        tokens_in = self.count_messages(messages)

        def body(stream: ChatStream) -> Iterator[str]:
            start = time.perf_counter()
            first: float | None = None
            out = 0
            try:
                for piece in _PIECE.findall(reply):
                    cost = max(1, self.count_tokens(piece))
                    if stream.stop_requested or out + cost > max_tokens:
                        return
                    if first is None:
                        first = time.perf_counter() - start
                    out += cost
                    yield piece
            finally:
                stream.set_stats(
                    GenerationStats(
                        model=self.model_name,
                        tokens_in=tokens_in,
                        tokens_out=out,
                        ttft_s=first,
                        seconds=time.perf_counter() - start,
                        queued_s=0.0,
                    )
                )

        return ChatStream(body)
