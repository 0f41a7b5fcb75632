"""The ctransformers engine is guarded: a file of another architecture is refused before any
load, and a failure inside the library stays in its child process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from kbchat.errors import ModelError
from kbchat.llm.base import ChatMessage
from kbchat.llm.ctransformers_engine import CTransformersBackend, check_llama_gguf
from kbchat.llm.locking import ModelBusyError
from kbchat.llm.models import packaged_model
from tests.fixtures.gemma3 import gemma3_model

pytestmark = pytest.mark.integration

QUESTION = [ChatMessage("user", "What is the VPN client called?")]


def _backend(path: Path) -> CTransformersBackend:
    return CTransformersBackend(
        path, chat_format="chatml", n_ctx=512, n_threads=1, display_name=path.name
    )


def test_another_architecture_is_refused_naming_the_file_and_llama_cpp() -> None:
    gemma = gemma3_model()
    with pytest.raises(ModelError) as refused:
        check_llama_gguf(gemma)
    message = str(refused.value)
    assert gemma.name in message
    assert "gemma3-architecture" in message
    assert "KBCHAT_LOCAL_ENGINE=llama-cpp" in message
    with pytest.raises(ModelError, match="gemma3-architecture"):
        list(_backend(gemma).stream_chat(QUESTION, max_tokens=4, temperature=0.0))


def test_a_file_the_library_cannot_load_is_an_error_in_this_process_not_a_crash() -> None:
    pytest.importorskip("ctransformers")
    # SmolLM2 is a llama-architecture GGUF of today: ctransformers (2023) cannot load it.
    smollm2 = packaged_model("smollm2")
    backend = _backend(smollm2)
    with pytest.raises(ModelError) as failed:
        list(backend.stream_chat(QUESTION, max_tokens=4, temperature=0.0))
    assert smollm2.name in str(failed.value)
    assert "llama-cpp" in str(failed.value)
    child = backend._shared.child
    assert child is None or not child.process.is_alive()


def test_a_truncated_llama_file_is_refused(tmp_path: Path) -> None:
    smollm2 = packaged_model("smollm2")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(smollm2.read_bytes()[:64])
    with pytest.raises(ModelError, match=r"cut\.gguf"):
        check_llama_gguf(cut)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("gguf")
    from tests.fixtures.tiny_llama import write_tiny_llama

    return write_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama.gguf")


def _llama2(path: Path) -> CTransformersBackend:
    return CTransformersBackend(
        path, chat_format="llama-2", n_ctx=512, n_threads=1, display_name="tiny"
    )


def test_a_llama_2_era_file_loads_and_streams(tiny_llama: Path) -> None:
    pytest.importorskip("ctransformers")
    backend = _llama2(tiny_llama)
    assert backend.count_tokens("the annual leave policy") > 1
    stream = backend.stream_chat(QUESTION, max_tokens=12, temperature=0.0)
    deltas = list(stream)
    assert stream.stats is not None
    assert stream.stats.tokens_out == len(deltas) > 0
    assert stream.stats.tokens_in == backend.count_messages(QUESTION)
    assert stream.stats.ttft_s is not None
    assert stream.text == "".join(deltas)
    again = backend.stream_chat(QUESTION, max_tokens=12, temperature=0.0)
    assert again.text == "" and "".join(again) == stream.text  # greedy: the same answer


def test_stop_ends_the_answer_and_frees_the_model(tiny_llama: Path) -> None:
    pytest.importorskip("ctransformers")
    backend = _llama2(tiny_llama)
    stream = backend.stream_chat(QUESTION, max_tokens=200, temperature=0.0)
    next(stream)
    stream.close()
    assert stream.finished
    full = backend.stream_chat(QUESTION, max_tokens=5, temperature=0.0)
    assert len(list(full)) == 5  # nothing of the stopped answer leaks into this one


def test_a_stop_that_arrives_after_the_answer_ended_is_ignored(tiny_llama: Path) -> None:
    """The race behind a closed stream: the parent sends ``stop`` while the child is already
    sending ``done``. Here the stop comes certainly late; the child must go on serving."""
    pytest.importorskip("ctransformers")
    backend = _llama2(tiny_llama)
    backend.warm_up()
    child = backend._shared.child
    assert child is not None
    child.send(("generate", "[INST] hello [/INST]", 1, 0.0), "answering with")
    while child.recv("answering with")[0] != "done":
        pass
    child.send(("stop",), "stopping")
    child.send(("count", "the annual leave policy"), "counting tokens of")
    kind, count = child.recv("counting tokens of")
    assert kind == "count" and count > 1
    assert backend._shared.child is child and child.process.is_alive()


def test_a_crash_in_the_library_is_a_model_error_and_the_next_request_works(
    tiny_llama: Path,
) -> None:
    pytest.importorskip("ctransformers")
    import signal

    backend = _llama2(tiny_llama)
    backend.warm_up()
    child = backend._shared.child
    assert child is not None
    stream = backend.stream_chat(QUESTION, max_tokens=200, temperature=0.0)
    next(stream)
    os.kill(child.process.pid, signal.SIGSEGV)  # what the library did on one file
    with pytest.raises(ModelError, match="crashed \\(SIGSEGV\\)"):
        list(stream)
    answer = backend.stream_chat(QUESTION, max_tokens=4, temperature=0.0)
    assert len(list(answer)) == 4
    assert backend._shared.child is not child


def test_the_child_never_runs_the_callers_main_script(
    tiny_llama: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under Streamlit ``__main__`` is the UI script; a child that ran it again would load
    llama.cpp beside ctransformers (CI saw that crash with SIGSEGV after the app tests)."""
    pytest.importorskip("ctransformers")
    import types

    marker = tmp_path / "main-ran"
    script = tmp_path / "ui_script.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    ui_main = types.ModuleType("__main__")
    ui_main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", ui_main)
    backend = CTransformersBackend(
        tiny_llama, chat_format="llama-2", n_ctx=256, n_threads=1, display_name="tiny"
    )  # a context of its own: a new child, started with this __main__ in place
    assert len(list(backend.stream_chat(QUESTION, max_tokens=3, temperature=0.0))) == 3
    assert not marker.exists()


def test_a_request_behind_a_stuck_one_is_told_the_model_is_busy(tiny_llama: Path) -> None:
    """The same queue limits as llama.cpp (KBCHAT_MODEL_QUEUE_TIMEOUT_S, _MAX)."""
    backend = CTransformersBackend(
        tiny_llama,
        chat_format="llama-2",
        n_ctx=512,
        n_threads=1,
        display_name="tiny",
        queue_timeout_s=0.3,
        queue_max=1,
    )
    lock = backend._shared.lock
    lock.acquire()  # a request that never finishes
    try:
        waits: list[int] = []
        stream = backend.stream_chat(QUESTION, max_tokens=4, temperature=0.0, on_wait=waits.append)
        with pytest.raises(ModelBusyError, match=r"waited 0\.3 s"):
            list(stream)
        assert waits == [1]
    finally:
        lock.release()
    assert not lock.locked


def test_the_engine_setting_builds_it_with_the_queue_limits(tiny_llama: Path) -> None:
    from kbchat.llm.factory import build_private_backend
    from kbchat.settings import LimitSettings, LocalModelSettings

    local = LocalModelSettings(  # type: ignore[call-arg]
        local_engine="ctransformers", local_model_path=tiny_llama, _env_file=None
    )
    limits = LimitSettings(model_queue_timeout_s=7, model_queue_max=3, _env_file=None)  # type: ignore[call-arg]
    backend, resolved = build_private_backend(local, limits)
    assert isinstance(backend, CTransformersBackend) and resolved is not None
    assert (backend.queue_timeout_s, backend.queue_max) == (7, 3)
    assert backend.model_name.endswith("(ctransformers)")
