"""The private model in-process: a GGUF file run by llama.cpp (``llama-cpp-python``).

The backend borrows its model from the process-wide registry (`kbchat.llm.model_registry`):
every backend naming the same file and load parameters shares one loaded model and its
`FairLock`, first come first served; a stream holds the lock until it is exhausted or closed.
Prompts are tokenized exactly as llama.cpp formats them (`kbchat.llm.chat_templates`).

The constant start of the prompts (chat template and system prompt) is evaluated once per
chat format and system prompt and kept (`kbchat.llm.prefix_cache`), so a question's time to
first token pays only for its own tokens, also after another prompt used the shared model.

Message text (passages, questions, history) can never produce a special token: before the
chat is formatted, every string the model's vocabulary holds as a control token, and every
common template marker, is broken with a zero-width space (`kbchat.llm.special_tokens`), so
only the template's own markers are special.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbchat.errors import ModelError
from kbchat.llm.base import ChatMessage, ChatStream, GenerationStats, OnWait
from kbchat.llm.model_registry import SharedModel, shared_model
from kbchat.llm.prefix_cache import PrefixKey, prefix_key


class LlamaCppBackend:
    """A GGUF chat model run in-process by llama.cpp."""

    def __init__(
        self,
        model_path: Path,
        *,
        chat_format: str,
        n_ctx: int,
        n_threads: int | None,
        n_gpu_layers: int,
        display_name: str,
        prefix_cache: bool = True,
        queue_timeout_s: float | None = None,
        queue_max: int | None = None,
    ) -> None:
        """Describe the model; it is loaded on first use.

        Args:
            model_path: GGUF file.
            chat_format: llama.cpp chat format name (``llama-2``, ``chatml``, ``gemma``, …;
                ``chat_template.default`` uses the template stored in the file).
            n_ctx: Context window in tokens.
            n_threads: CPU threads; None means all cores.
            n_gpu_layers: Layers offloaded to a GPU (-1 all, 0 none).
            display_name: What the UI shows as the answering model.
            prefix_cache: Keep the constant start of prompts (template and system prompt)
                evaluated and restore it when the shared model has moved on; False leaves
                only llama-cpp-python's own reuse of the last prompt (for comparisons).
            queue_timeout_s: Longest wait in line for the shared model before the answer
                fails with `ModelBusyError`; None waits as long as it takes.
            queue_max: Most answers that may wait in line at once; None means no cap.
        """
        self.model_path = model_path
        self.chat_format = chat_format
        self.prefix_cache = prefix_cache
        self.model_name = display_name
        self.context_window = n_ctx
        self.queue_timeout_s = queue_timeout_s
        self.queue_max = queue_max
        self._model = shared_model(
            model_path, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers
        )

    @property
    def shared(self) -> SharedModel:
        """The shared model (weights and lock) this backend uses."""
        return self._model

    def warm_up(self, system_prompt: str | None = None) -> None:
        """Load the model now instead of on the first question.

        Args:
            system_prompt: The system prompt questions will come with: the start of the
                prompt it makes (template included) is evaluated and kept now, so even the
                first question evaluates only its own tokens.

        Raises:
            ModelError: When the model cannot be loaded or evaluate the prefix.
        """
        key = (self.chat_format, system_prompt)
        prefix = self._model.constant_prefix(key) if system_prompt and self.prefix_cache else []
        model = self._model
        model.lock.acquire()
        try:
            llama = model.llama()
            if prefix:
                try:
                    model.prefixes.prime(llama, key, prefix)
                except Exception as exc:  # llama.cpp raises bare RuntimeError
                    llama.reset()
                    raise ModelError(f"{self.model_name} failed to read the prompt: {exc}") from exc
        finally:
            model.lock.release()

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the model's tokenizer, without BOS or template."""
        return len(self._model.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the chat prompt exactly as llama.cpp formats it (template, BOS)."""
        return len(self._model.prompt_tokens(self._payload(messages), self.chat_format))

    def _payload(self, messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
        """The messages as llama.cpp takes them, their text unable to make special tokens."""
        return self._model.guard().messages(_as_dicts(messages))

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        on_wait: OnWait | None = None,
    ) -> ChatStream:
        """Start answering ``messages``; generation begins when the stream is first read.

        Args:
            messages: The chat, system prompt first.
            max_tokens: Longest answer; cut to what the context window leaves.
            temperature: Sampling temperature.
            on_wait: Called with the number of requests ahead if this one must wait.

        Returns:
            The stream of text deltas.

        Raises:
            ModelError: When the model cannot be loaded or the prompt does not fit.
        """
        payload = self._payload(messages)
        prompt = self._model.prompt_tokens(payload, self.chat_format)
        tokens_in = len(prompt)
        if tokens_in >= self.context_window:
            raise ModelError(
                f"The prompt takes {tokens_in} tokens, but {self.model_name} reads at most "
                f"{self.context_window}: use fewer passages or a shorter question, or raise "
                "KBCHAT_LOCAL_N_CTX."
            )

        plan: _PrefixPlan | None = None
        if self.prefix_cache:
            key = prefix_key(self.chat_format, payload)
            plan = _PrefixPlan(prompt, key, self._model.constant_prefix(key))

        def body(stream: ChatStream) -> Iterator[str]:
            return self._generate(
                stream, payload, plan, tokens_in, max_tokens, temperature, on_wait
            )

        return ChatStream(body)

    def _generate(
        self,
        stream: ChatStream,
        payload: list[dict[str, str]],
        plan: _PrefixPlan | None,
        tokens_in: int,
        max_tokens: int,
        temperature: float,
        on_wait: OnWait | None,
    ) -> Iterator[str]:
        model = self._model
        queued_s = model.lock.acquire(
            on_wait, timeout_s=self.queue_timeout_s, max_waiting=self.queue_max
        )
        start = time.perf_counter()
        ttft: float | None = None
        finish: str | None = None
        tokens_out = 0
        cached = 0
        try:
            llama = model.llama()
            start = time.perf_counter()  # a first load is not answering time
            llama.chat_format = self.chat_format  # the model may be shared across formats
            try:
                if plan is not None:
                    cached = model.prefixes.prepare(llama, plan.prompt, plan.key, plan.prefix)
                chunks: Any = llama.create_chat_completion(
                    messages=payload,  # type: ignore[arg-type]
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stream=True,
                )
            except Exception as exc:  # llama.cpp raises bare ValueError/RuntimeError
                llama.reset()  # what the model holds is unknown now
                cached = 0
                raise ModelError(f"{self.model_name} failed to start answering: {exc}") from exc
            try:
                for chunk in _checked(chunks, self.model_name):
                    choice = chunk["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    delta = choice.get("delta", {}).get("content")
                    if delta:
                        if ttft is None:
                            ttft = time.perf_counter() - start
                        yield delta
                    if stream.stop_requested:
                        break
            finally:
                chunks.close()  # stop llama.cpp before another request may use the model
                tokens_out = _generated_tokens(llama.n_tokens, tokens_in, finish, ttft)
        finally:
            stream.set_stats(
                GenerationStats(
                    model=self.model_name,
                    tokens_in=tokens_in,
                    tokens_out=tokens_out,
                    ttft_s=ttft,
                    seconds=time.perf_counter() - start,
                    queued_s=queued_s,
                    cached_tokens=cached,
                )
            )
            model.lock.release()


@dataclass(frozen=True)
class _PrefixPlan:
    """A prompt's tokens and the constant prefix it is expected to start with."""

    prompt: list[int]
    key: PrefixKey
    prefix: list[int]


def _checked(chunks: Iterator[Any], model_name: str) -> Iterator[Any]:
    """Re-raise llama.cpp failures during generation as `ModelError`."""
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except Exception as exc:
            raise ModelError(f"{model_name} failed while answering: {exc}") from exc
        yield chunk


def _generated_tokens(n_tokens: int, tokens_in: int, finish: str | None, ttft: float | None) -> int:
    """Tokens generated, read from the model's evaluated-token count.

    After a stream, llama.cpp has evaluated the prompt and every generated token but the
    last one sampled. When the answer ends on the end-of-turn token (finish "stop") that
    last token is not part of the answer; otherwise (length cap, closed early) it is. An
    answer cut by a textual stop string (rare: chat formats stop on their end token) is
    counted one short.
    """
    evaluated = max(0, n_tokens - tokens_in)
    if finish == "stop" or (finish is None and ttft is None and evaluated == 0):
        return evaluated
    return evaluated + 1


def _as_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]
