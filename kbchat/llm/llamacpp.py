"""The private model in-process: a GGUF file run by llama.cpp (``llama-cpp-python``).

A loaded model is shared by every backend that names the same file and load parameters
(`shared_model`), and is loaded on first use, never at import. llama.cpp is not
thread-safe, so all generation on one model goes through its `FairLock`, first come first
served; a stream holds the lock until it is exhausted or closed.

Token counting does not queue behind a running answer: it uses a second, vocabulary-only
instance of the same file (tokenizer and chat template, no weights), with its own lock.

The constant start of the prompts (chat template and system prompt) is evaluated once per
chat format and system prompt and kept (`kbchat.llm.prefix_cache`), so a question's time to
first token pays only for its own tokens, also after another prompt used the shared model.

Message text (passages, questions, history) can never produce a special token: before the
chat is formatted, every string the model's vocabulary holds as a control token, and every
common template marker, is broken with a zero-width space (`kbchat.llm.special_tokens`), so
only the template's own markers are special.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from kbchat.errors import ModelError
from kbchat.instances import PerProcess
from kbchat.llm.base import ChatMessage, ChatStream, GenerationStats, OnWait
from kbchat.llm.gguf import check_gguf, describe_load_failure
from kbchat.llm.locking import FairLock
from kbchat.llm.prefix_cache import PrefixCache, PrefixKey, constant_prefix, prefix_key, probe_chats
from kbchat.llm.special_tokens import SpecialTokenGuard, guard_for

if TYPE_CHECKING:
    from llama_cpp import Llama

INSTALL_HINT = (
    "llama-cpp-python is not installed: `pip install llama-cpp-python` "
    "(it compiles llama.cpp, about 10 minutes on 2 cores)"
)


def import_llama_cpp() -> ModuleType:
    """Import ``llama_cpp`` on first use.

    Returns:
        The ``llama_cpp`` module.

    Raises:
        ModelError: With the install hint when it is missing.
    """
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelError(INSTALL_HINT) from exc
    _route_llama_logs(llama_cpp)
    return llama_cpp


_LOG = logging.getLogger("kbchat.llama_cpp")
_log_callback: Any = None


def _route_llama_logs(llama_cpp: ModuleType) -> None:
    """Send llama.cpp's own log lines to Python logging instead of the terminal.

    llama-cpp-python 0.3.36 maps ggml's log levels with an outdated table, so warnings reach
    stderr even with ``verbose=False``. Errors are logged as errors, the rest as debug.
    """
    global _log_callback
    if _log_callback is not None:
        return

    def forward(level: int, text: bytes, _user_data: Any) -> None:
        message = text.decode("utf-8", errors="replace").rstrip()
        if message:
            _LOG.log(logging.ERROR if level == 4 else logging.DEBUG, message)

    _log_callback = llama_cpp.llama_log_callback(forward)  # kept alive: C holds a pointer
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


@dataclass(frozen=True)
class ModelKey:
    """What makes two loads of a model the same (and so shareable)."""

    path: Path
    n_ctx: int
    n_threads: int | None
    n_gpu_layers: int


class SharedModel:
    """One GGUF model loaded once per process, with the lock that serialises its use."""

    def __init__(self, key: ModelKey) -> None:
        """Describe the model; nothing is loaded until first use.

        Args:
            key: File and load parameters.
        """
        self.key = key
        self.lock = FairLock()
        self.load_seconds: float | None = None
        self._load_lock = threading.Lock()
        self._vocab_lock = threading.Lock()
        self._llama: Llama | None = None
        self._vocab: Llama | None = None
        self.prefixes = PrefixCache()  # used only while holding ``lock``
        self._prefix_tokens: dict[PrefixKey, list[int]] = {}  # guarded by ``_vocab_lock``
        self._guard: SpecialTokenGuard | None = None  # guarded by ``_vocab_lock``

    @property
    def loaded(self) -> bool:
        """True once the weights are in memory."""
        return self._llama is not None

    def llama(self) -> Llama:
        """The full model, loaded on first call. Call only while holding ``self.lock``.

        Raises:
            ModelError: When the file is missing, not GGUF, or llama.cpp refuses it.
        """
        with self._load_lock:
            if self._llama is None:
                start = time.perf_counter()
                self._llama = _load(self.key, vocab_only=False)
                self.load_seconds = time.perf_counter() - start
            return self._llama

    def tokenize(self, text: bytes, *, add_bos: bool, special: bool) -> list[int]:
        """Tokenize with the model's own tokenizer, without waiting for a running answer."""
        with self._vocab_lock:
            return list(self._vocab_model().tokenize(text, add_bos=add_bos, special=special))

    def guard(self) -> SpecialTokenGuard:
        """What keeps message text from producing this model's special tokens (made once)."""
        with self._vocab_lock:
            if self._guard is None:
                self._guard = guard_for(self._vocab_model())
            return self._guard

    def prompt_tokens(self, messages: list[dict[str, str]], chat_format: str) -> list[int]:
        """The tokens llama.cpp would feed the model for ``messages`` in ``chat_format``.

        The chat handler that ``create_chat_completion`` uses formats and tokenizes the
        prompt, then asks for a completion; a stand-in model stops it right there.
        """
        with self._vocab_lock:
            vocab = self._vocab_model()
            handler = _chat_handler(vocab, chat_format, self.key.path)
            probe = _PromptProbe(vocab)
            try:
                handler(llama=probe, messages=messages, stream=False)
            except _PromptCaptured as captured:
                return captured.tokens
            except (ValueError, TypeError, KeyError) as exc:
                raise ModelError(
                    f"Chat format '{chat_format}' cannot format these messages: {exc}"
                ) from exc
            raise ModelError(f"Chat format '{chat_format}' did not produce a prompt.")

    def constant_prefix(self, key: PrefixKey) -> list[int]:
        """The tokens every prompt with this chat format and system prompt begins with.

        Found by formatting two chats that differ only in their user message and taking
        their common tokens, so it holds for any chat template (remembered per key).
        """
        with self._vocab_lock:
            known = self._prefix_tokens.get(key)
        if known is not None:
            return known
        chat_format, system_prompt = key
        first, second = probe_chats(system_prompt)
        prefix = constant_prefix(
            self.prompt_tokens(first, chat_format), self.prompt_tokens(second, chat_format)
        )
        with self._vocab_lock:
            if len(self._prefix_tokens) >= _MAX_PREFIX_KEYS:
                self._prefix_tokens.clear()
            self._prefix_tokens[key] = prefix
        return prefix

    def _vocab_model(self) -> Llama:
        if self._vocab is None:
            self._vocab = _load(self.key, vocab_only=True)
        return self._vocab


_MAX_PREFIX_KEYS = 64  # remembered prefix token lists (a few hundred ints each)
_MODELS: PerProcess[ModelKey, SharedModel] = PerProcess()


def shared_model(
    path: Path, *, n_ctx: int, n_threads: int | None, n_gpu_layers: int
) -> SharedModel:
    """The process-wide `SharedModel` for a file and its load parameters (created once).

    Args:
        path: GGUF file.
        n_ctx: Context window in tokens.
        n_threads: CPU threads; None means all cores.
        n_gpu_layers: Layers offloaded to a GPU (-1 all, 0 none).

    Returns:
        The shared model; backends with the same key share its weights and its lock.
    """
    key = ModelKey(path.expanduser().resolve(), n_ctx, n_threads, n_gpu_layers)
    return _MODELS.get(key, lambda: SharedModel(key))


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


def default_threads() -> int:
    """Half the cores (llama.cpp's own default).

    llama.cpp's threads spin while they wait, so taking every core of a machine that also
    runs the UI, the embedder and a browser slows decoding down many times over (measured on 2
    cores: 2 tokens/s with 2 threads against 26-56 with 1 while the UI was busy).
    """
    return max(1, (os.cpu_count() or 2) // 2)


def _load(key: ModelKey, *, vocab_only: bool) -> Llama:
    """Load a GGUF file with llama.cpp, turning every failure into a `ModelError`."""
    check_gguf(key.path)
    llama_cpp = import_llama_cpp()
    try:
        llama: Llama = llama_cpp.Llama(
            model_path=str(key.path),
            n_ctx=key.n_ctx,
            n_threads=key.n_threads or default_threads(),
            # Prompt reading too: llama.cpp would otherwise take every core for it.
            n_threads_batch=key.n_threads or default_threads(),
            n_gpu_layers=key.n_gpu_layers,
            vocab_only=vocab_only,
            verbose=False,
        )
    except Exception as exc:  # llama.cpp reports a refused file as a bare ValueError
        raise ModelError(
            f"Model file {key.path} cannot be loaded: {describe_load_failure(key.path)}."
        ) from exc
    return llama


def _chat_handler(llama: Llama, chat_format: str, path: Path) -> Any:
    """The handler ``Llama.create_chat_completion`` uses for ``chat_format``."""
    handler = llama._chat_handlers.get(chat_format)  # templates stored in the GGUF file
    if handler is not None:
        return handler
    from llama_cpp import llama_chat_format

    try:
        return llama_chat_format.get_chat_completion_handler(chat_format)
    except llama_chat_format.LlamaChatCompletionHandlerNotFoundException as exc:
        raise ModelError(
            f"Unknown chat format '{chat_format}' for {path.name}: set "
            "KBCHAT_LOCAL_CHAT_FORMAT to one llama.cpp knows (llama-2, chatml, gemma, …)."
        ) from exc


class _PromptCaptured(Exception):
    def __init__(self, tokens: list[int]) -> None:
        super().__init__("prompt captured")
        self.tokens = tokens


class _PromptProbe:
    """Stands in for a ``Llama`` in a chat handler: tokenizes, then stops before generating."""

    verbose = False

    def __init__(self, llama: Llama) -> None:
        self._llama = llama

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(self._llama.tokenize(text, add_bos=add_bos, special=special))

    def create_completion(self, prompt: str | list[int], **_: object) -> None:
        if isinstance(prompt, str):
            raise _PromptCaptured(self.tokenize(prompt.encode("utf-8"), special=True))
        raise _PromptCaptured(list(prompt))


def _as_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]
