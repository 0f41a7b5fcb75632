"""Chat model backends: one interface (`ChatBackend`) for the private and the cloud model.

Only light modules are imported here; ``llama_cpp`` and ``openai`` are imported on first use.
"""

from __future__ import annotations

from kbchat.llm.base import ChatBackend, ChatMessage, ChatStream, GenerationStats, OnWait
from kbchat.llm.download import pull_llama2
from kbchat.llm.factory import build_cloud_backend, build_private_backend
from kbchat.llm.llamacpp import LlamaCppBackend
from kbchat.llm.models import (
    ModelInfo,
    ResolvedModel,
    list_models,
    packaged_model,
    resolve_local_model,
)
from kbchat.llm.openai_compat import OpenAICompatBackend

__all__ = [
    "ChatBackend",
    "ChatMessage",
    "ChatStream",
    "GenerationStats",
    "LlamaCppBackend",
    "ModelInfo",
    "OnWait",
    "OpenAICompatBackend",
    "ResolvedModel",
    "build_cloud_backend",
    "build_private_backend",
    "list_models",
    "packaged_model",
    "pull_llama2",
    "resolve_local_model",
]
