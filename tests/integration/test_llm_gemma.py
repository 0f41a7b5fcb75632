"""A second architecture (Gemma 3 270M, gemma3) through the same LlamaCppBackend."""

from __future__ import annotations

import pytest

from kbchat.llm.base import ChatMessage
from kbchat.llm.gguf import read_gguf_info
from kbchat.llm.llamacpp import LlamaCppBackend
from tests.fixtures.gemma3 import CHAT_FORMAT, DISPLAY_NAME, gemma3_model

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gemma() -> LlamaCppBackend:
    return LlamaCppBackend(
        gemma3_model(),
        chat_format=CHAT_FORMAT,
        n_ctx=1024,
        n_threads=1,
        n_gpu_layers=0,
        display_name=DISPLAY_NAME,
    )


def test_packaged_gemma3_is_assembled_once_and_is_gemma3() -> None:
    path = gemma3_model()
    assert path == gemma3_model()
    assert read_gguf_info(path).architecture == "gemma3"


def test_gemma3_loads_and_generates(gemma: LlamaCppBackend) -> None:
    messages = [ChatMessage("user", "Write one word.")]
    stream = gemma.stream_chat(messages, max_tokens=12, temperature=0.0)
    text = "".join(stream)  # a 270M model's words are junk; that it generates is the point
    stats = stream.stats
    assert text and stats is not None
    assert stats.tokens_in == gemma.count_messages(messages)
    assert 1 <= stats.tokens_out <= 12
    assert stats.ttft_s is not None and stats.ttft_s <= stats.seconds
    assert not gemma.shared.lock.locked
