"""The process-wide registry of loaded llama.cpp models, shared by every backend naming them.

A model is keyed by its file and load parameters (`ModelKey`); `shared_model` hands every
backend with the same key the same `SharedModel`, loaded on first use, never at import.
llama.cpp is not thread-safe, so all generation on one model goes through its `FairLock`,
first come first served.

Token counting does not queue behind a running answer: it uses a second, vocabulary-only
instance of the same file (tokenizer and chat template, no weights), with its own lock. The
constant start of each chat format's prompts is remembered here too (`constant_prefix`), and
the special-token guard is made once per model.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from kbchat.errors import ModelError
from kbchat.instances import PerProcess
from kbchat.llm.chat_templates import prompt_tokens
from kbchat.llm.gguf import check_gguf, describe_load_failure
from kbchat.llm.locking import FairLock
from kbchat.llm.prefix_cache import PrefixCache, PrefixKey, constant_prefix, probe_chats
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

        Probed with the chat handler llama.cpp uses (`kbchat.llm.chat_templates`), on the
        vocabulary-only instance, so it never waits for a running answer.
        """
        with self._vocab_lock:
            return prompt_tokens(self._vocab_model(), messages, chat_format, self.key.path)

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
