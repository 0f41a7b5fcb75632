"""The two answerers built from settings: the private model and the cloud model, on the same
retrieval, gate, compression and answer settings (`answering_options`)."""

from __future__ import annotations

from typing import Any

from kbchat.answering.service import Answerer
from kbchat.knowledge import AccessPolicy, index_for
from kbchat.llm.factory import build_cloud_backend, build_private_backend
from kbchat.llm.models import ResolvedModel
from kbchat.llm.scripted import ScriptedBackend
from kbchat.settings import Settings


def answering_options(settings: Settings) -> dict[str, Any]:
    """What every answerer takes from the settings, whichever model it runs on: retrieval,
    the relevance gate, context compression, answer length and temperature, the question cap.
    The private and the cloud answerer share it, so both answer on the same evidence."""
    retrieval = settings.retrieval
    return {
        "top_k": retrieval.top_k,
        "min_relevance": retrieval.min_relevance,
        "min_keyword_relevance": retrieval.min_keyword_relevance,
        "min_keyword_coverage": retrieval.min_keyword_coverage,
        "compress": retrieval.compress_context,
        "compress_keep": retrieval.compress_keep,
        "compress_whole_top": retrieval.compress_whole_top,
        "compress_shown_top": retrieval.compress_shown_top,
        "compress_drop_margin": retrieval.compress_drop_margin,
        "max_answer_tokens": settings.generation.max_answer_tokens,
        "temperature": settings.generation.temperature,
        "max_question_chars": retrieval.max_question_chars,
        "access": AccessPolicy(settings),
    }


def private_answerer(settings: Settings) -> tuple[Answerer, ResolvedModel | None]:
    """An answerer on the private model (llama.cpp in-process, or the company's server).

    Building is cheap; the model loads on its first question and is shared by every answerer
    of this process with the same file and load settings.

    Raises:
        ModelError: no GGUF file can be found, not even the packaged stand-in.
    """
    backend, resolved = build_private_backend(
        settings.local, settings.limits, server=settings.private_server
    )
    # The scripted engine is a stand-in too: the pages say so and show its notice.
    scripted = isinstance(backend, ScriptedBackend)
    answerer = Answerer(
        index_for(settings),
        backend,
        label="private",
        **answering_options(settings),
        fallback=bool(resolved and resolved.fallback) or scripted,
        notice=resolved.notice if resolved else (SCRIPTED_NOTICE if scripted else None),
    )
    return answerer, resolved


SCRIPTED_NOTICE = (
    "No model is answering: KBCHAT_LOCAL_ENGINE=scripted repeats the first sentences of the "
    "passages found, for trying the wiring. Unset it to answer with the private model."
)


def cloud_answerer(settings: Settings) -> Answerer:
    """An answerer on the cloud model, with the same retrieval and prompt as the private one.

    Only ever stream from it through `kbchat.cloud_answer.start_cloud_answer` (or the answering
    service, `kbchat.assistant.Assistant`), which puts every request through the policy gate.
    """
    return Answerer(
        index_for(settings),
        build_cloud_backend(settings.cloud),
        label="cloud",
        **answering_options(settings),
    )
