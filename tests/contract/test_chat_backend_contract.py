"""The contract every `ChatBackend` keeps, run over each one kbchat ships.

The answering service, the compare view and the ledger rely on these and nothing more: token
counts to budget the prompt, a stream of text deltas that adds up to ``text``, statistics once
it ends (also when stopped early), ``max_tokens`` respected, and ``close()`` ending it. Each
backend runs the same tests: the scripted stand-in, llama.cpp on the packaged SmolLM2, an
OpenAI-compatible server over real HTTP (llama.cpp's, on loopback: the cloud and the
private-server path), and
ctransformers on a tiny Llama-architecture file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kbchat.llm.base import ChatBackend, ChatMessage
from kbchat.llm.models import packaged_model
from tests.fixtures.llm_backends import smollm2_backend
from tests.fixtures.llm_server import SERVER_MODEL, start_llama_server

pytestmark = pytest.mark.contract

CHAT = [
    ChatMessage("system", "Answer from the passages, citing them like [1]."),
    ChatMessage(
        "user",
        'Passages:\n\n<passage n="1" source="hr/leave.md">\nStaff get 25 days of annual leave. '
        "Carry-over is five days.\n</passage>\n\n<question>\nHow much leave do I get?\n"
        "</question>",
    ),
]


def _scripted() -> Iterator[ChatBackend]:
    from kbchat.llm.scripted import ScriptedBackend

    yield ScriptedBackend()


def _llama_cpp() -> Iterator[ChatBackend]:
    yield smollm2_backend()


def _openai_compatible() -> Iterator[ChatBackend]:
    from kbchat.llm.openai_compat import OpenAICompatBackend

    with start_llama_server(packaged_model("smollm2"), api_key="sk-test") as url:
        yield OpenAICompatBackend(
            url,
            "sk-test",
            SERVER_MODEL,
            display_name="llama.cpp server",
            context_window=4096,
            timeout_s=10,
            max_retries=0,
        )


def _ctransformers(tmp: Path) -> Iterator[ChatBackend]:
    pytest.importorskip("ctransformers")
    pytest.importorskip("gguf")
    from kbchat.llm.ctransformers_engine import CTransformersBackend
    from tests.fixtures.tiny_llama import write_tiny_llama

    path = write_tiny_llama(tmp / "tiny-llama.gguf")
    yield CTransformersBackend(
        path, chat_format="llama-2", n_ctx=512, n_threads=1, display_name="tiny"
    )


@pytest.fixture(
    scope="module", params=["scripted", "llama-cpp", "openai-compatible", "ctransformers"]
)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChatBackend]:
    makers = {
        "scripted": _scripted,
        "llama-cpp": _llama_cpp,
        "openai-compatible": _openai_compatible,
        "ctransformers": lambda: _ctransformers(tmp_path_factory.mktemp("ct")),
    }
    yield from makers[request.param]()


def test_it_is_a_chat_backend_with_a_name_and_a_context_window(backend: ChatBackend) -> None:
    assert isinstance(backend, ChatBackend)
    assert isinstance(backend.model_name, str) and backend.model_name
    assert backend.context_window > 0
    backend.warm_up(CHAT[0].content)  # getting ready ahead of a question never fails


def test_token_counts_grow_with_the_text_and_include_every_message(backend: ChatBackend) -> None:
    short, long = "annual leave", "annual leave is twenty five days for every member of staff"
    assert 0 < backend.count_tokens(short) < backend.count_tokens(long)
    per_message = sum(backend.count_tokens(m.content) for m in CHAT)
    assert backend.count_messages(CHAT) >= per_message
    assert backend.count_messages(CHAT) > backend.count_messages(CHAT[:1])


def test_the_stream_adds_up_to_its_text_and_ends_with_statistics(backend: ChatBackend) -> None:
    stream = backend.stream_chat(CHAT, max_tokens=24, temperature=0.0)
    assert stream.stats is None and not stream.finished
    deltas = list(stream)
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert stream.text == "".join(deltas) and stream.finished
    stats = stream.stats
    assert stats is not None
    assert stats.model == backend.model_name
    assert stats.tokens_in > 0 and stats.tokens_out > 0
    assert stats.tokens_out <= 24 or stats.tokens_estimated  # a server that sends no usage
    assert stats.ttft_s is not None and 0 <= stats.ttft_s <= stats.seconds
    assert stats.queued_s >= 0
    assert list(stream) == []  # an exhausted stream stays exhausted


def test_max_tokens_caps_the_answer(backend: ChatBackend) -> None:
    stream = backend.stream_chat(CHAT, max_tokens=2, temperature=0.0)
    text = "".join(stream)
    assert stream.stats is not None and stream.stats.tokens_out > 0
    assert stream.stats.tokens_out <= 2 or stream.stats.tokens_estimated
    assert len(text) < len("".join(backend.stream_chat(CHAT, max_tokens=24, temperature=0.0)))


def test_close_ends_the_answer_with_statistics_and_the_next_request_works(
    backend: ChatBackend,
) -> None:
    stream = backend.stream_chat(CHAT, max_tokens=64, temperature=0.0)
    first = next(stream)
    stream.close()
    stream.close()  # twice is harmless
    assert stream.finished and list(stream) == []
    assert stream.text == first
    assert stream.stats is not None and stream.stats.tokens_out >= 1
    with backend.stream_chat(CHAT, max_tokens=8, temperature=0.0) as again:
        assert "".join(again)


def test_a_stream_closed_before_it_starts_says_nothing(backend: ChatBackend) -> None:
    stream = backend.stream_chat(CHAT, max_tokens=8, temperature=0.0)
    stream.close()
    assert list(stream) == [] and stream.text == ""
