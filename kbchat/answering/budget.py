"""Fit the prompt into the model's context window, leaving room for the answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kbchat.answering.prompt import Passage, build_messages
from kbchat.errors import KbchatError
from kbchat.llm.base import ChatMessage


@dataclass(frozen=True)
class FittedPrompt:
    """The prompt that fits, and what had to be left out."""

    messages: list[ChatMessage]
    passages: list[Passage]
    dropped_passages: list[Passage]
    dropped_turns: int
    prompt_tokens: int


def fit_prompt(
    question: str,
    passages: Sequence[Passage],
    history: Sequence[ChatMessage],
    *,
    count_messages: Callable[[Sequence[ChatMessage]], int],
    context_window: int,
    answer_tokens: int,
    system_prompt: str | None = None,
) -> FittedPrompt:
    """Keep as much as fits in ``context_window - answer_tokens`` tokens.

    The lowest-ranked passages go first, then the oldest conversation turns (in pairs); the
    instructions and the question always stay. Passages keep their numbers, so citations
    still point at what the user sees.

    Args:
        question: the user's question.
        passages: retrieved passages, best first.
        history: earlier turns, oldest first.
        count_messages: the model's exact count of a formatted chat prompt.
        context_window: the model's context size in tokens.
        answer_tokens: tokens kept free for the answer.
        system_prompt: instructions (the default prompt when ``None``).

    Raises:
        KbchatError: even the question alone does not fit.
    """
    limit = context_window - answer_tokens
    kept = list(passages)
    turns = list(history)
    extra = {} if system_prompt is None else {"system_prompt": system_prompt}

    def messages() -> list[ChatMessage]:
        return build_messages(question, kept, turns, **extra)

    tokens = count_messages(messages())
    while tokens > limit and (kept or turns):
        if kept:
            kept.pop()
        else:
            del turns[:2]
        tokens = count_messages(messages())
    if tokens > limit:
        raise KbchatError(
            f"The question is too long for the model: it needs {tokens} tokens, and "
            f"{context_window} minus {answer_tokens} for the answer are available. "
            "Shorten the question."
        )
    return FittedPrompt(
        messages=messages(),
        passages=kept,
        dropped_passages=list(passages)[len(kept) :],
        dropped_turns=len(history) - len(turns),
        prompt_tokens=tokens,
    )
