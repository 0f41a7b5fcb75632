"""LlamaCppBackend on the real packaged SmolLM2-135M-Instruct (llama architecture, ChatML)."""

from __future__ import annotations

import gc
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from kbchat.errors import ModelError
from kbchat.llm.base import ChatMessage, GenerationStats
from kbchat.llm.llamacpp import LlamaCppBackend
from kbchat.llm.models import packaged_model
from tests.fixtures.llm_backends import smollm2_backend

pytestmark = pytest.mark.integration

QUESTION = [
    ChatMessage("system", "You answer in one short sentence."),
    ChatMessage("user", "What is the capital of France?"),
]


@pytest.fixture(scope="module")
def backend() -> LlamaCppBackend:
    model = smollm2_backend()
    model.warm_up()
    return model


def _llama_cpp_usage(backend: LlamaCppBackend, messages: list[ChatMessage], **kw: Any) -> Any:
    """What llama.cpp itself reports for a non-streamed answer (holding the model's lock)."""
    shared = backend.shared
    shared.lock.acquire()
    try:
        llama = shared.llama()
        llama.chat_format = backend.chat_format
        result = llama.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in messages],  # type: ignore[misc]
            **kw,
        )
    finally:
        shared.lock.release()
    return result["usage"]  # type: ignore[index]


def test_streams_a_short_answer_with_sane_stats(backend: LlamaCppBackend) -> None:
    stream = backend.stream_chat(QUESTION, max_tokens=32, temperature=0.0)
    deltas = list(stream)
    assert deltas and all(isinstance(d, str) and d for d in deltas)
    assert stream.text == "".join(deltas)
    assert "Paris" in stream.text
    stats = stream.stats
    assert isinstance(stats, GenerationStats)
    assert stats.model == "SmolLM2-135M-Instruct"
    assert stats.tokens_in == backend.count_messages(QUESTION)
    assert 1 <= stats.tokens_out <= 32
    assert stats.ttft_s is not None and 0 < stats.ttft_s <= stats.seconds
    assert stats.queued_s == 0.0
    assert stats.tokens_per_s is None or stats.tokens_per_s > 0
    assert not stats.tokens_estimated
    assert not backend.shared.lock.locked


@pytest.mark.parametrize(
    "messages",
    [
        QUESTION,
        [ChatMessage("user", "Hi")],
        [
            ChatMessage("system", "Use the passages.\n[1] Überstunden werden ausgezahlt — 💶."),
            ChatMessage("user", "Who pays overtime?"),
            ChatMessage("assistant", "The employer [1]."),
            ChatMessage("user", "When?"),
        ],
    ],
)
def test_count_messages_equals_llama_cpp_prompt_tokens(
    backend: LlamaCppBackend, messages: list[ChatMessage]
) -> None:
    usage = _llama_cpp_usage(backend, messages, max_tokens=1, temperature=0.0)
    assert backend.count_messages(messages) == usage["prompt_tokens"]
    assert backend.count_tokens("Paris is the capital.") > 0


@pytest.mark.parametrize("max_tokens", [5, 48])
def test_tokens_out_equals_llama_cpp_completion_tokens(
    backend: LlamaCppBackend, max_tokens: int
) -> None:
    usage = _llama_cpp_usage(backend, QUESTION, max_tokens=max_tokens, temperature=0.0)
    stream = backend.stream_chat(QUESTION, max_tokens=max_tokens, temperature=0.0)
    list(stream)
    assert stream.stats is not None
    assert stream.stats.tokens_in == usage["prompt_tokens"]
    assert stream.stats.tokens_out == usage["completion_tokens"]


def test_four_concurrent_streams_are_served_one_at_a_time(backend: LlamaCppBackend) -> None:
    start = threading.Barrier(4)
    results: dict[int, tuple[str, GenerationStats | None, list[int]]] = {}
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        waits: list[int] = []
        try:
            messages = [QUESTION[0], ChatMessage("user", f"Name {i + 2} colours.")]
            stream = backend.stream_chat(
                messages, max_tokens=24, temperature=0.2, on_wait=waits.append
            )
            start.wait()
            text = "".join(stream)
            results[i] = (text, stream.stats, waits)
        except BaseException as exc:  # noqa: BLE001 - surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert sorted(results) == [0, 1, 2, 3]
    all_waits = [n for _, _, waits in results.values() for n in waits]
    assert all_waits, "no request was told it had to wait"
    assert all(1 <= n <= 3 for n in all_waits)
    for text, stats, waits in results.values():
        assert text and stats is not None and stats.tokens_out > 0
        assert (stats.queued_s > 0) == bool(waits)
    assert not backend.shared.lock.locked and backend.shared.lock.waiting == 0


def test_abandoned_stream_releases_the_model(backend: LlamaCppBackend) -> None:
    stream = backend.stream_chat(QUESTION, max_tokens=48, temperature=0.0)
    assert next(stream)
    assert backend.shared.lock.locked
    del stream
    gc.collect()
    assert not backend.shared.lock.locked
    again = backend.stream_chat(QUESTION, max_tokens=8, temperature=0.0)
    assert "".join(again)


def test_close_stops_generation_early(backend: LlamaCppBackend) -> None:
    stream = backend.stream_chat(
        [ChatMessage("user", "Count from one to fifty in words.")], max_tokens=48, temperature=0.0
    )
    first = next(stream)
    stream.close()
    assert not backend.shared.lock.locked
    assert stream.text == first and list(stream) == []
    assert stream.stats is not None and 1 <= stream.stats.tokens_out <= 3


def test_prompt_longer_than_the_context_is_refused(backend: LlamaCppBackend) -> None:
    long = [ChatMessage("user", "Tell me about the policy. " * 400)]
    with pytest.raises(ModelError, match="reads at most 1024"):
        backend.stream_chat(long, max_tokens=8, temperature=0.0)


def test_unknown_chat_format_is_refused() -> None:
    odd = smollm2_backend(chat_format="no-such-format", display_name="odd")
    with pytest.raises(ModelError, match="Unknown chat format 'no-such-format'"):
        odd.count_messages(QUESTION)


def test_truncated_model_gives_a_reason_not_a_crash(tmp_path: Path) -> None:
    cut = tmp_path / "SmolLM2-cut.gguf"
    with packaged_model("smollm2").open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(30_000_000))
    broken = smollm2_backend(cut, n_ctx=512, display_name="cut")
    with pytest.raises(ModelError) as excinfo:
        list(broken.stream_chat(QUESTION, max_tokens=4, temperature=0.0))
    assert str(cut) in str(excinfo.value) and "cut short" in str(excinfo.value)
    assert not broken.shared.lock.locked


def test_backends_with_the_same_file_share_one_model(
    backend: LlamaCppBackend, tmp_path: Path
) -> None:
    twin = smollm2_backend(display_name="twin")
    assert twin.shared is backend.shared
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(packaged_model("smollm2"), copy)
    other = smollm2_backend(copy, display_name="c")
    assert other.shared is not backend.shared
