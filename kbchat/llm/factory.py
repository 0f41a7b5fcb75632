"""Build the private and cloud chat backends from settings.

Building is cheap: nothing is loaded or connected here. A llama.cpp model is loaded on
its first use and then shared by every backend with the same file and load parameters
(`kbchat.llm.model_registry.shared_model`), so calling these again (a Streamlit rerun, the CLI)
never loads a model twice.
"""

from __future__ import annotations

from kbchat.llm.base import ChatBackend
from kbchat.llm.llamacpp import LlamaCppBackend
from kbchat.llm.model_registry import default_threads
from kbchat.llm.models import ResolvedModel, resolve_local_model
from kbchat.llm.openai_compat import OpenAICompatBackend
from kbchat.llm.scripted import ScriptedBackend
from kbchat.settings import (
    CloudSettings,
    LimitSettings,
    LocalModelSettings,
    PrivateServerSettings,
)

MAX_RETRIES = 2  # of a private server: transient network errors inside the company
CLOUD_CONTEXT_WINDOWS = {"gpt-4o-mini": 128_000, "gpt-4o": 128_000, "gpt-4.1-mini": 1_047_576}
DEFAULT_CLOUD_CONTEXT = 128_000


def build_private_backend(
    local: LocalModelSettings,
    limits: LimitSettings | None = None,
    *,
    server: PrivateServerSettings | None = None,
) -> tuple[ChatBackend, ResolvedModel | None]:
    """The private model: a company server when one is configured, else llama.cpp in-process
    (or ctransformers, or the scripted stand-in, as ``local_engine`` says).

    Args:
        local: The in-process model's settings (its context window is the server's too).
        limits: The wait limit and queue cap of the in-process model (defaults if None).
        server: The company server of the private model; used when its address is set.

    Returns:
        The backend, and the resolved GGUF file (with the fallback notice, if any) for the
        in-process model; None for a server.

    Raises:
        ModelError: When no GGUF file can be found (not even the packaged stand-in).
    """
    if server and server.private_base_url:
        key = server.private_api_key.get_secret_value() if server.private_api_key else None
        remote = OpenAICompatBackend(
            server.private_base_url,
            key,
            server.private_model,
            display_name=server.private_model,
            context_window=local.local_n_ctx,
            timeout_s=server.private_timeout_s,
            max_retries=MAX_RETRIES,
            key_env="KBCHAT_PRIVATE_API_KEY",
        )
        return remote, None
    if local.local_engine == "scripted":
        return ScriptedBackend(context_window=local.local_n_ctx), None
    resolved = resolve_local_model(local)
    limits = limits or LimitSettings()
    if local.local_engine == "ctransformers":
        from kbchat.llm.ctransformers_engine import CTransformersBackend

        return CTransformersBackend(
            resolved.path,
            chat_format=resolved.chat_format,
            n_ctx=local.local_n_ctx,
            n_threads=local.local_n_threads or default_threads(),
            display_name=resolved.name,
            queue_timeout_s=limits.model_queue_timeout_s,
            queue_max=limits.model_queue_max,
        ), resolved
    backend = LlamaCppBackend(
        resolved.path,
        chat_format=resolved.chat_format,
        n_ctx=local.local_n_ctx,
        n_threads=local.local_n_threads,
        n_gpu_layers=local.local_n_gpu_layers,
        display_name=resolved.name,
        queue_timeout_s=limits.model_queue_timeout_s,
        queue_max=limits.model_queue_max,
    )
    return backend, resolved


def build_cloud_backend(cloud: CloudSettings) -> OpenAICompatBackend:
    """The cloud model (OpenAI, or the OpenAI-compatible endpoint configured).

    Whether a request may go to it is the policy gate's decision, not this function's. A
    missing key is reported when the backend is first used (``stream_chat``), so the UI
    can show it in the cloud column.

    Args:
        cloud: The cloud settings.

    Returns:
        The backend.
    """
    key = cloud.openai_api_key.get_secret_value() if cloud.openai_api_key else None
    return OpenAICompatBackend(
        cloud.openai_base_url,
        key,
        cloud.cloud_model,
        display_name=cloud.cloud_model,
        context_window=CLOUD_CONTEXT_WINDOWS.get(cloud.cloud_model, DEFAULT_CLOUD_CONTEXT),
        timeout_s=cloud.cloud_timeout_s,
        max_retries=cloud.cloud_max_retries,
    )
