"""The optional ctransformers engine, for Llama-architecture GGUF files of the Llama 2 era.

ctransformers (``pip install 'kbchat[ctransformers]'``) has been frozen since 2023: it fails
on current GGUF files and has crashed its process on some. So kbchat guards it twice:
- before loading, the GGUF header is read (`kbchat.llm.gguf`) and any architecture other than
  ``llama`` is refused with a message that names the file and points to llama.cpp;
- the model runs in a child process: a crash inside the library ends that process only, and
  the UI or CLI gets a `ModelError` saying what happened; the next request starts a new child.
  The child is a fresh interpreter running the script `ctransformers_child.py`, never a copy
  of the caller's ``__main__`` (under Streamlit that is the whole UI script).

Calls into one model are serialised by a `FairLock` shared by every backend on the same file,
as with llama.cpp, and a waiting request is told how many are ahead.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from kbchat.errors import ModelError
from kbchat.llm.base import ChatMessage, ChatStream, GenerationStats, OnWait
from kbchat.llm.gguf import GgufFormatError, read_gguf_info
from kbchat.llm.locking import FairLock

_LOAD_TIMEOUT_S = 300.0
_CHILD_SCRIPT = Path(__file__).with_name("ctransformers_child.py")


def check_llama_gguf(path: Path) -> None:
    """Refuse a file the ctransformers engine must not load.

    Raises:
        ModelError: the file is missing, not a readable GGUF file, or not of the llama
            architecture; the message names the file and the fix.
    """
    try:
        info = read_gguf_info(path)
    except OSError as err:
        raise ModelError(f"Cannot read the model file {path}: {err.strerror or err}.") from err
    except GgufFormatError as err:
        raise ModelError(f"{path} is not a readable GGUF file ({err}).") from err
    if info.architecture != "llama":
        raise ModelError(
            f"{path.name} is a {info.architecture or 'unknown'}-architecture model: the "
            "ctransformers engine runs only Llama-architecture GGUF files of the Llama 2 era. "
            "Use llama.cpp for it: set KBCHAT_LOCAL_ENGINE=llama-cpp."
        )


def format_prompt(messages: Sequence[ChatMessage], chat_format: str) -> str:
    """The chat template of ``chat_format`` (``llama-2`` or ``chatml``) applied to messages."""
    if chat_format == "chatml":
        turns = [f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages]
        return "".join(turns) + "<|im_start|>assistant\n"
    if chat_format != "llama-2":
        raise ModelError(
            f"The ctransformers engine knows the chat formats llama-2 and chatml, not "
            f"{chat_format!r}: fix KBCHAT_LOCAL_CHAT_FORMAT or use KBCHAT_LOCAL_ENGINE=llama-cpp."
        )
    system = "\n".join(m.content for m in messages if m.role == "system")
    prompt, pending_system = "", system
    for message in messages:
        if message.role == "user":
            content = message.content
            if pending_system:
                content = f"<<SYS>>\n{pending_system}\n<</SYS>>\n\n{content}"
                pending_system = ""
            prompt += f"<s>[INST] {content} [/INST]"
        elif message.role == "assistant":
            prompt += f" {message.content} </s>"
    return prompt


# -- the child process -----------------------------------------------------------------------


class _Process:
    """The child: `ctransformers_child.py` run as a plain script (see that module).

    ``-P`` keeps the script's folder off ``sys.path``, where ``gguf.py`` and the other
    modules of this package would shadow installed ones; the script imports nothing of
    kbchat, so the child starts without the settings and the rest of the package.
    """

    def __init__(self, fd: int, path: Path, threads: int, context: int) -> None:
        self._popen = subprocess.Popen(
            [sys.executable, "-P", str(_CHILD_SCRIPT), *map(str, (fd, path, threads, context))],
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
        )
        self.pid = self._popen.pid

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    def kill(self) -> None:
        self._popen.kill()

    def join(self, timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout)

    @property
    def exitcode(self) -> int | None:
        return self._popen.poll()


def _death(process: _Process) -> str:
    process.join(5)
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"crashed ({signal.Signals(-code).name})"
        except ValueError:
            return f"was killed (signal {-code})"
    return f"exited (status {code})"


class _Child:
    """The process holding one loaded model, and the connection to it."""

    def __init__(self, path: Path, threads: int, context: int) -> None:
        self.conn, child = multiprocessing.Pipe()
        try:
            self.process = _Process(child.fileno(), path, threads, context)
        finally:
            child.close()
        self.path = path
        deadline = time.monotonic() + _LOAD_TIMEOUT_S
        while not self.conn.poll(0.1):
            if not self.process.is_alive() and not self.conn.poll(0):
                raise ModelError(self.failure("loading"))
            if time.monotonic() > deadline:
                self.process.kill()
                raise ModelError(f"ctransformers took too long to load {path.name}.")
        kind, value = self.recv("loading")
        if kind != "ready":
            self.process.join(5)
            raise ModelError(
                f"{path.name}: {value}. Use llama.cpp for it: set KBCHAT_LOCAL_ENGINE=llama-cpp."
            )

    def failure(self, doing: str) -> str:
        return (
            f"The ctransformers engine {_death(self.process)} while {doing} {self.path.name}; "
            "kbchat itself is unaffected. Use llama.cpp for this file "
            "(KBCHAT_LOCAL_ENGINE=llama-cpp)."
        )

    def recv(self, doing: str) -> tuple[str, Any]:
        try:
            message: tuple[str, Any] = self.conn.recv()
        except (EOFError, OSError) as err:
            raise ModelError(self.failure(doing)) from err
        return message

    def send(self, message: tuple[Any, ...], doing: str) -> None:
        try:
            self.conn.send(message)
        except (OSError, ValueError) as err:
            raise ModelError(self.failure(doing)) from err


class _SharedChild:
    """One child per model file and settings, with the lock that serialises its use."""

    def __init__(self) -> None:
        self.lock = FairLock()
        self.child: _Child | None = None


_shared: dict[tuple[Path, int, int], _SharedChild] = {}
_shared_lock = threading.Lock()


class CTransformersBackend:
    """A `ChatBackend` on ctransformers, the model in a child process.

    Args:
        path: the GGUF file (Llama architecture).
        chat_format: ``llama-2`` or ``chatml``.
        n_ctx: the context window.
        n_threads: CPU threads of the model.
        display_name: what the UI shows as the answering model.
        queue_timeout_s: longest wait in line for the model before the answer fails with
            `ModelBusyError`; None waits as long as it takes (as for llama.cpp).
        queue_max: most answers that may wait in line at once; None means no cap.
    """

    def __init__(
        self,
        path: Path,
        *,
        chat_format: str,
        n_ctx: int,
        n_threads: int,
        display_name: str,
        queue_timeout_s: float | None = None,
        queue_max: int | None = None,
    ) -> None:
        self.path = path
        self.queue_timeout_s = queue_timeout_s
        self.queue_max = queue_max
        self.chat_format = chat_format
        self.context_window = n_ctx
        self.model_name = f"{display_name} (ctransformers)"
        self._threads = n_threads
        key = (path.resolve(), n_ctx, n_threads)
        with _shared_lock:
            self._shared = _shared.setdefault(key, _SharedChild())

    def _child(self) -> _Child:
        """The running child (started, after the header check, if there is none)."""
        shared = self._shared
        if shared.child is None or not shared.child.process.is_alive():
            check_llama_gguf(self.path)
            shared.child = _Child(self.path, self._threads, self.context_window)
        return shared.child

    def warm_up(self, system_prompt: str | None = None) -> None:
        """Start the child and load the model now."""
        self._shared.lock.acquire()
        try:
            self._child()
        finally:
            self._shared.lock.release()

    def count_tokens(self, text: str) -> int:
        """Tokens of a plain text, by the model's own tokenizer."""
        self._shared.lock.acquire()
        try:
            child = self._child()
            child.send(("count", text), "counting tokens of")
            _kind, count = child.recv("counting tokens of")
            return int(count)
        finally:
            self._shared.lock.release()

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the formatted prompt."""
        return self.count_tokens(format_prompt(messages, self.chat_format))

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        on_wait: OnWait | None = None,
    ) -> ChatStream:
        """Answer in the child; the stream yields its text deltas."""
        prompt = format_prompt(messages, self.chat_format)

        def body(stream: ChatStream) -> Iterator[str]:
            return self._generate(stream, prompt, max_tokens, temperature, on_wait)

        return ChatStream(body)

    def _generate(
        self,
        stream: ChatStream,
        prompt: str,
        max_tokens: int,
        temperature: float,
        on_wait: OnWait | None,
    ) -> Iterator[str]:
        shared = self._shared
        queued_s = shared.lock.acquire(
            on_wait, timeout_s=self.queue_timeout_s, max_waiting=self.queue_max
        )
        started = time.perf_counter()
        ttft: float | None = None
        tokens_in = tokens_out = 0
        child: _Child | None = None
        finished = False
        try:
            child = self._child()
            child.send(("generate", prompt, max_tokens, temperature), "answering with")
            stop_sent = False
            while True:
                if stream.stop_requested and not stop_sent:
                    child.send(("stop",), "answering with")
                    stop_sent = True
                kind, value = child.recv("answering with")
                if kind == "done":
                    tokens_in, tokens_out = value
                    finished = True
                    break
                if ttft is None:
                    ttft = time.perf_counter() - started
                if not stop_sent:
                    yield str(value)
        finally:
            if child is not None and not finished:
                # Closed early: the next request must not read this answer's end.
                tokens_in, tokens_out = _drain(child) or (tokens_in, tokens_out)
            shared.lock.release()
            stream.set_stats(
                GenerationStats(
                    model=self.model_name,
                    tokens_in=tokens_in,
                    tokens_out=tokens_out,
                    ttft_s=ttft,
                    seconds=time.perf_counter() - started,
                    queued_s=queued_s,
                )
            )


def _drain(child: _Child) -> tuple[int, int] | None:
    """Stop an answer the reader left and read up to its end; returns the token counts the
    child reports there (None when the child is dead: nothing to read)."""
    try:
        child.send(("stop",), "stopping")
        while True:
            kind, value = child.recv("stopping")
            if kind == "done":
                tokens_in, tokens_out = value
                return int(tokens_in), int(tokens_out)
    except ModelError:
        child.process.kill()
        return None
