"""OpenAICompatBackend against a tiny OpenAI-style HTTP server on 127.0.0.1 (the real SDK,
real HTTP): streaming, usage, and every failure mapped to a message a user can act on."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from kbchat.errors import ModelError
from kbchat.llm.base import ChatMessage
from kbchat.llm.openai_compat import (
    OpenAICompatBackend,
    estimate_message_tokens,
    estimate_tokens,
)
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.unit


class _QuietServer(ThreadingHTTPServer):
    """Serves each request in a thread; a client that hung up early is not an error here."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


KEY = "sk-test-DO-NOT-LEAK-1234567890"
MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Say hello.")]

_ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "status-401": (
        401,
        {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"},
    ),
    "status-403": (403, {"message": "Project does not have access", "code": None}),
    "status-404": (404, {"message": "The model does not exist", "code": "model_not_found"}),
    "status-429": (429, {"message": "Rate limit reached", "code": "rate_limit_exceeded"}),
    "status-quota": (429, {"message": "You exceeded your quota", "code": "insufficient_quota"}),
    "status-400-ctx": (400, {"message": "too long", "code": "context_length_exceeded"}),
    "status-500": (500, {"message": f"upstream exploded near {KEY}", "code": None}),
    "status-503": (503, {"message": "overloaded", "code": None}),
}


class _FakeOpenAI(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions according to the requested model name."""

    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *_: object) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body["_authorization"] = self.headers.get("Authorization")
        _FakeOpenAI.requests.append(body)
        model = body["model"]
        if model in _ERRORS:
            status, error = _ERRORS[model]
            self._json(status, {"error": {"type": "error", "param": None, **error}})
        elif model == "slow":
            time.sleep(1.5)
            self._json(500, {"error": {"message": "too late"}})
        elif model.startswith("stream"):
            self._stream(with_usage=model == "stream-usage")
        else:
            self._json(400, {"error": {"message": f"unknown test model {model}"}})

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, *, with_usage: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

        def event(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> None:
            chunk = {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "m",
                "choices": choices,
                "usage": usage,
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        event([{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}])
        for word in ["Hello", " there", "!"]:
            event([{"index": 0, "delta": {"content": word}, "finish_reason": None}])
        event([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if with_usage:
            event([], {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24})
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = _QuietServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _backend(
    base_url: str | None, model: str, *, key: str | None = KEY, **kw: Any
) -> OpenAICompatBackend:
    options: dict[str, Any] = {"timeout_s": 5.0, "max_retries": 0, **kw}
    return OpenAICompatBackend(
        base_url, key, model, display_name="Test model", context_window=4096, **options
    )


def _error(backend: OpenAICompatBackend) -> str:
    with pytest.raises(ModelError) as excinfo:
        stream = backend.stream_chat(MESSAGES, max_tokens=16, temperature=0.1)
        list(stream)
    message = str(excinfo.value)
    assert KEY not in message
    assert "DO-NOT-LEAK" not in message
    return message


def test_stream_with_server_usage(server: str) -> None:
    _FakeOpenAI.requests.clear()
    backend = _backend(server, "stream-usage")
    stream = backend.stream_chat(MESSAGES, max_tokens=16, temperature=0.1)
    assert list(stream) == ["Hello", " there", "!"]
    assert stream.text == "Hello there!"
    stats = stream.stats
    assert stats is not None and not stats.tokens_estimated
    assert (stats.tokens_in, stats.tokens_out) == (21, 3)
    assert stats.model == "Test model" and stats.queued_s == 0.0
    assert stats.ttft_s is not None and 0 <= stats.ttft_s <= stats.seconds
    sent = _FakeOpenAI.requests[-1]
    assert sent["max_tokens"] == 16 and "max_completion_tokens" not in sent
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["_authorization"] == f"Bearer {KEY}"


def test_stream_without_usage_falls_back_to_estimates(server: str) -> None:
    stream = _backend(server, "stream-plain").stream_chat(MESSAGES, max_tokens=16, temperature=0)
    assert "".join(stream) == "Hello there!"
    stats = stream.stats
    assert stats is not None and stats.tokens_estimated
    assert stats.tokens_in == estimate_message_tokens(MESSAGES)
    assert stats.tokens_out == estimate_tokens("Hello there!") == 3


def test_estimates_are_four_characters_per_token_plus_overheads() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    # 2 messages: ceil(9/4)=3 and ceil(10/4)=3, 4 overhead each, 3 for the reply
    assert estimate_message_tokens(MESSAGES) == 3 + 4 + 3 + 4 + 3
    backend = _backend("http://127.0.0.1:1/v1", "x")
    assert backend.count_tokens("abcdefgh") == 2
    assert backend.count_messages(MESSAGES) == estimate_message_tokens(MESSAGES)


def test_keyless_private_server_gets_a_placeholder_not_the_cloud_key(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cloud-key-must-not-travel")
    _FakeOpenAI.requests.clear()
    list(
        _backend(server, "stream-plain", key=None).stream_chat(
            MESSAGES, max_tokens=4, temperature=0
        )
    )
    assert "sk-cloud" not in (_FakeOpenAI.requests[-1]["_authorization"] or "")


def test_no_key_for_openai_itself() -> None:
    assert _error(_backend(None, "gpt-4o-mini", key=None)) == (
        "OPENAI_API_KEY is not set: add it to .env or disable the cloud model"
    )


def test_bad_key(server: str) -> None:
    message = _error(_backend(server, "status-401"))
    assert "rejected the API key" in message and "401" in message
    assert "check OPENAI_API_KEY" in message


def test_missing_key_on_a_server_that_needs_one_names_the_setting(server: str) -> None:
    backend = _backend(server, "status-401", key=None, key_env="KBCHAT_PRIVATE_API_KEY")
    message = _error(backend)
    assert "needs an API key" in message and "KBCHAT_PRIVATE_API_KEY" in message


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("status-403", "refused access (HTTP 403"),
        ("status-404", "does not know model 'status-404' (HTTP 404)"),
        ("status-429", "rate-limiting requests (HTTP 429"),
        ("status-quota", "no quota left"),
        ("status-400-ctx", "prompt is too long"),
        ("status-500", "failed (HTTP 500)"),
        ("status-503", "failed (HTTP 503): overloaded; try again later"),
    ],
)
def test_http_errors_are_explained(server: str, model: str, expected: str) -> None:
    message = _error(_backend(server, model))
    assert expected in message
    assert server in message


def test_server_message_echoing_the_key_is_scrubbed(server: str) -> None:
    message = _error(_backend(server, "status-500"))
    assert "upstream exploded near ***" in message


def test_retries_are_made_by_the_sdk(server: str) -> None:
    _FakeOpenAI.requests.clear()
    _error(_backend(server, "status-503", max_retries=1))
    assert len(_FakeOpenAI.requests) == 2


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    message = _error(_backend(url, "any"))
    assert message.startswith(f"could not reach the model server at {url}")
    assert "refused" in message.lower()


def test_timeout(server: str) -> None:
    message = _error(_backend(server, "slow", timeout_s=0.3))
    assert "did not answer within 0.3 s" in message
