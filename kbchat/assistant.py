"""The private assistant built from settings: the index, the private model, the answerer."""

from __future__ import annotations

from kbchat.answering.service import Answerer
from kbchat.knowledge import index_for
from kbchat.llm.factory import build_private_backend
from kbchat.llm.models import ResolvedModel
from kbchat.settings import Settings


def private_answerer(settings: Settings) -> tuple[Answerer, ResolvedModel | None]:
    """An answerer on the private model (llama.cpp in-process, or the company's server).

    Building is cheap; the model loads on its first question and is shared by every answerer
    of this process with the same file and load settings.

    Raises:
        ModelError: no GGUF file can be found, not even the packaged stand-in.
    """
    backend, resolved = build_private_backend(settings.local, settings.limits)
    answerer = Answerer(
        index_for(settings),
        backend,
        label="private",
        top_k=settings.retrieval.top_k,
        min_relevance=settings.retrieval.min_relevance,
        min_keyword_relevance=settings.retrieval.min_keyword_relevance,
        min_keyword_coverage=settings.retrieval.min_keyword_coverage,
        compress=settings.retrieval.compress_context,
        compress_keep=settings.retrieval.compress_keep,
        compress_whole_top=settings.retrieval.compress_whole_top,
        compress_shown_top=settings.retrieval.compress_shown_top,
        compress_drop_margin=settings.retrieval.compress_drop_margin,
        max_answer_tokens=settings.local.max_answer_tokens,
        temperature=settings.local.temperature,
        max_question_chars=settings.retrieval.max_question_chars,
        fallback=bool(resolved and resolved.fallback),
        notice=resolved.notice if resolved else None,
    )
    return answerer, resolved
