"""OpenAICompatBackend against a real `python -m llama_cpp.server` serving SmolLM2 on
127.0.0.1: the stand-in for the OpenAI API (real HTTP, real SDK)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from kbchat.errors import ModelError
from kbchat.llm.base import ChatMessage
from kbchat.llm.factory import build_private_backend
from kbchat.llm.models import packaged_model
from kbchat.llm.openai_compat import OpenAICompatBackend
from kbchat.settings import LocalModelSettings, PrivateServerSettings
from tests.fixtures.llm_server import SERVER_MODEL, start_llama_server

pytestmark = pytest.mark.integration

KEY = "sk-local-test-key-0123456789"
QUESTION = [
    ChatMessage("system", "You answer in one short sentence."),
    ChatMessage("user", "What is the capital of France?"),
]


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with start_llama_server(packaged_model("smollm2"), api_key=KEY) as url:
        yield url


def _backend(url: str, key: str | None = KEY) -> OpenAICompatBackend:
    return OpenAICompatBackend(
        url,
        key,
        SERVER_MODEL,
        display_name="SmolLM2 (server)",
        context_window=1024,
        timeout_s=60,
        max_retries=0,
    )


def test_streams_through_the_openai_sdk(server_url: str) -> None:
    stream = _backend(server_url).stream_chat(QUESTION, max_tokens=32, temperature=0.0)
    deltas = list(stream)
    assert len(deltas) > 1, "the answer should arrive in pieces"
    assert "Paris" in stream.text
    stats = stream.stats
    assert stats is not None and stats.model == "SmolLM2 (server)"
    assert stats.tokens_in > 0 and 1 <= stats.tokens_out <= 32
    assert stats.ttft_s is not None and 0 < stats.ttft_s <= stats.seconds
    # llama_cpp.server 0.3.36 sends no usage in streams: the counts are the documented estimate
    assert stats.tokens_estimated


def test_wrong_key_is_reported_without_the_key(server_url: str) -> None:
    wrong = "sk-wrong-key-9876543210"
    with pytest.raises(ModelError) as excinfo:
        list(_backend(server_url, wrong).stream_chat(QUESTION, max_tokens=4, temperature=0.0))
    message = str(excinfo.value)
    assert "rejected the API key (HTTP 401" in message
    assert wrong not in message and KEY not in message


def test_close_stops_the_server_stream(server_url: str) -> None:
    backend = _backend(server_url)
    stream = backend.stream_chat(
        [ChatMessage("user", "Count from one to fifty in words.")], max_tokens=48, temperature=0
    )
    next(stream)
    stream.close()
    assert stream.stats is not None and stream.finished
    # the server is free again for the next request
    assert "".join(backend.stream_chat(QUESTION, max_tokens=8, temperature=0.0))


def test_factory_points_the_private_model_at_the_server(server_url: str, tmp_path: object) -> None:
    local = LocalModelSettings(_env_file=None, local_n_ctx=1024)
    server = PrivateServerSettings(
        _env_file=None,
        private_base_url=server_url,
        private_model=SERVER_MODEL,
        private_api_key=SecretStr(KEY),
    )
    backend, resolved = build_private_backend(local, server=server)
    assert resolved is None and backend.model_name == SERVER_MODEL
    assert "".join(backend.stream_chat(QUESTION, max_tokens=8, temperature=0.0))
