"""A chat model behind an OpenAI-compatible HTTP API: OpenAI itself, Azure OpenAI, or a
server inside the company (llama.cpp server, vLLM, TGI).

Uses the ``openai`` SDK's streaming chat completions. SDK failures become `ModelError`s
that say what to do; no message ever contains the API key.

Token counts come from the server's usage report (requested with
``stream_options={"include_usage": True}``). When a server sends none, and for budgeting
before a request, counts are estimated without any tokenizer download: about four
characters per token (rounded up) per message, plus `MESSAGE_OVERHEAD` tokens per message
for the role and separators and `REPLY_OVERHEAD` for priming the reply. For English prose
this lands within roughly 10-20% of OpenAI's tokenizers.

Chat-template markers in message text (``<|im_start|>``, ``[INST]``, ``</s>``…) are broken
with a zero-width space before sending (`kbchat.llm.special_tokens`): a server built on
llama.cpp would otherwise parse them as special tokens.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

from kbchat.errors import ModelError
from kbchat.llm.base import ChatMessage, ChatStream, GenerationStats, OnWait
from kbchat.llm.special_tokens import TEMPLATE_GUARD

if TYPE_CHECKING:
    from openai import OpenAI
    from openai.types.chat import ChatCompletionMessageParam

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4
REPLY_OVERHEAD = 3
NO_KEY_MESSAGE = "OPENAI_API_KEY is not set: add it to .env or disable the cloud model"
_PLACEHOLDER_KEY = "not-needed"  # the SDK insists on a key; keyless servers ignore it


def estimate_tokens(text: str) -> int:
    """Estimate the tokens of ``text``: one per four characters, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_message_tokens(messages: Sequence[ChatMessage]) -> int:
    """Estimate the tokens of a chat prompt, with per-message and reply overheads."""
    return sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD for m in messages) + REPLY_OVERHEAD


def import_openai() -> ModuleType:
    """Import the ``openai`` SDK on first use.

    Raises:
        ModelError: With the install hint when it is missing.
    """
    try:
        import openai
    except ImportError as exc:
        raise ModelError("The openai package is not installed: `pip install openai`.") from exc
    return openai


class OpenAICompatBackend:
    """A chat model served over the OpenAI chat-completions API."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        model: str,
        *,
        display_name: str,
        context_window: int,
        timeout_s: float,
        max_retries: int,
        key_env: str = "OPENAI_API_KEY",
    ) -> None:
        """Describe the endpoint; no connection is made until the first request.

        Args:
            base_url: API base (``http://host:port/v1``); None means OpenAI itself.
            api_key: The key; required for OpenAI itself, optional for other servers.
            model: Model name sent with each request.
            display_name: What the UI shows as the answering model.
            context_window: Tokens the model takes in.
            timeout_s: Seconds to wait for a connection and between streamed chunks.
            max_retries: Retries of connection errors, 429 and 5xx (by the SDK, with backoff).
            key_env: Setting that holds the key, named in error messages.
        """
        self.base_url = base_url
        self.model = model
        self.model_name = display_name
        self.context_window = context_window
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._api_key = api_key or None
        self.key_env = key_env
        self._client: OpenAI | None = None

    @property
    def has_key(self) -> bool:
        """True when an API key is configured."""
        return self._api_key is not None

    @property
    def where(self) -> str:
        """The endpoint, as error messages name it."""
        return (
            f"the model server at {shown_url(self.base_url)}" if self.base_url else "the OpenAI API"
        )

    def warm_up(self, system_prompt: str | None = None) -> None:
        """Nothing to do: the server holds the model (a request would only spend tokens)."""

    def count_tokens(self, text: str) -> int:
        """Estimated tokens of ``text`` (see the module docstring)."""
        return estimate_tokens(text)

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        """Estimated tokens of the chat prompt (see the module docstring)."""
        return estimate_message_tokens(messages)

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        on_wait: OnWait | None = None,
    ) -> ChatStream:
        """Start answering ``messages``; the request is sent when the stream is first read.

        Args:
            messages: The chat, system prompt first.
            max_tokens: Longest answer (sent as ``max_tokens``).
            temperature: Sampling temperature.
            on_wait: Not called: a server queues requests without telling the client.

        Returns:
            The stream of text deltas.

        Raises:
            ModelError: When no key is configured for OpenAI itself.
        """
        client = self._get_client()
        # Servers built on llama.cpp parse special tokens in message text too.
        payload = TEMPLATE_GUARD.messages(
            [{"role": m.role, "content": m.content} for m in messages]
        )

        def body(stream: ChatStream) -> Iterator[str]:
            return self._generate(stream, client, messages, payload, max_tokens, temperature)

        return ChatStream(body)

    def _get_client(self) -> OpenAI:
        if self._client is None:
            if self._api_key is None and self.base_url is None:
                raise ModelError(NO_KEY_MESSAGE)
            openai = import_openai()
            self._client = openai.OpenAI(
                api_key=self._api_key or _PLACEHOLDER_KEY,
                base_url=self.base_url,
                timeout=self.timeout_s,
                max_retries=self.max_retries,
            )
        return self._client

    def _generate(
        self,
        stream: ChatStream,
        client: OpenAI,
        messages: Sequence[ChatMessage],
        payload: list[dict[str, str]],
        max_tokens: int,
        temperature: float,
    ) -> Iterator[str]:
        openai = import_openai()
        start = time.perf_counter()
        ttft: float | None = None
        usage: Any = None
        parts: list[str] = []
        response: Any = None
        try:
            try:
                response = client.chat.completions.create(
                    model=self.model,
                    messages=cast("list[ChatCompletionMessageParam]", payload),
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stream=True,
                    stream_options={"include_usage": True},
                )
                for chunk in response:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    delta = chunk.choices[0].delta.content if chunk.choices else None
                    if delta:
                        if ttft is None:
                            ttft = time.perf_counter() - start
                        parts.append(delta)
                        yield delta
                    if stream.stop_requested:
                        break
            except openai.OpenAIError as exc:
                error = self._error(exc)
                if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
                    raise error from None  # the SDK's own text may echo part of the key
                raise error from exc
        finally:
            if response is not None:
                response.close()
            seconds = time.perf_counter() - start
            if usage is not None and usage.prompt_tokens:
                tokens_in, tokens_out, estimated = (
                    int(usage.prompt_tokens),
                    int(usage.completion_tokens or 0),
                    False,
                )
            else:
                tokens_in = estimate_message_tokens(messages)
                tokens_out, estimated = estimate_tokens("".join(parts)), True
            stream.set_stats(
                GenerationStats(
                    model=self.model_name,
                    tokens_in=tokens_in,
                    tokens_out=tokens_out,
                    ttft_s=ttft,
                    seconds=seconds,
                    queued_s=0.0,
                    tokens_estimated=estimated,
                )
            )

    def _error(self, exc: Exception) -> ModelError:
        """Turn an ``openai`` SDK error into a `ModelError` a user can act on."""
        return ModelError(self._scrub(describe_openai_error(exc, self)))

    def _scrub(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return text


def shown_url(url: str) -> str:
    """An endpoint's address as users may see it: scheme, host, port and path, without the
    user name, password, query or fragment a URL can carry credentials in."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "(an address that cannot be parsed)"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def describe_openai_error(exc: Exception, backend: OpenAICompatBackend) -> str:
    """Say what an ``openai`` SDK error means for the user and how to fix it.

    Args:
        exc: The SDK exception.
        backend: The backend that raised it (endpoint, model, key setting).

    Returns:
        The message (without any API key).
    """
    openai = import_openai()
    where, model, key_env = backend.where, backend.model, backend.key_env
    if isinstance(exc, openai.APITimeoutError):
        return (
            f"{where} did not answer within {backend.timeout_s:g} s: it may be overloaded; "
            "try again later."
        )
    if isinstance(exc, openai.APIConnectionError):
        return (
            f"could not reach {where}: {_root_cause(exc)}; check the network connection "
            "and the base URL."
        )
    if isinstance(exc, openai.APIStatusError):
        status, detail = exc.status_code, _server_message(exc)
        if status == 401:
            if not backend.has_key:
                return f"{where} needs an API key (HTTP 401 Unauthorized): set {key_env}."
            return f"{where} rejected the API key (HTTP 401 Unauthorized): check {key_env}."
        if status == 403:
            return (
                f"{where} refused access (HTTP 403 Forbidden): the key in {key_env} may not "
                f"be allowed to use model '{model}'."
            )
        if status == 404:
            return (
                f"{where} does not know model '{model}' (HTTP 404): check the model name "
                "and the base URL."
            )
        if status == 429:
            if exc.code == "insufficient_quota":
                return (
                    f"{where}: the account has no quota left (HTTP 429 insufficient_quota): "
                    "check the plan and billing, or use the private model."
                )
            return (
                f"{where} is rate-limiting requests (HTTP 429 Too Many Requests): wait a "
                "minute and try again."
            )
        if status == 400 and exc.code == "context_length_exceeded":
            return (
                f"{where} says the prompt is too long for model '{model}' (HTTP 400): use "
                "fewer passages or a shorter question."
            )
        if status >= 500:
            return f"{where} failed (HTTP {status}): {detail}; try again later."
        return f"{where} refused the request (HTTP {status}): {detail}"
    return f"{where} failed while answering: {exc}"


def _server_message(exc: Any) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or body.get("detail")
        if isinstance(message, str) and message:
            return message[:300]
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return str(getattr(exc.response, "reason_phrase", "") or "no details")


def _root_cause(exc: BaseException) -> str:
    """The innermost cause of a connection error (``[Errno 111] Connection refused``)."""
    seen: set[int] = set()
    while exc.__cause__ is not None and id(exc.__cause__) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__
    text = str(exc).strip()
    return text or type(exc).__name__
