"""Chat-template probing: the exact tokens llama.cpp would feed a model for a chat.

``Llama.create_chat_completion`` formats and tokenizes a chat with its chat handler (a named
llama.cpp format, or the Jinja template stored in the GGUF file), then asks for a completion.
`prompt_tokens` runs that same handler against a stand-in model that captures the tokens and
stops before anything is generated, so token counts and prefix caching see what the model sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kbchat.errors import ModelError

if TYPE_CHECKING:
    from llama_cpp import Llama


def prompt_tokens(
    vocab: Llama, messages: list[dict[str, str]], chat_format: str, path: Path
) -> list[int]:
    """The tokens llama.cpp would feed the model for ``messages`` in ``chat_format``.

    Args:
        vocab: A loaded model (vocabulary-only is enough); the caller holds its lock.
        messages: The chat as llama.cpp takes it.
        chat_format: llama.cpp chat format name, or ``chat_template.default``.
        path: The GGUF file, for messages.

    Raises:
        ModelError: When the format is unknown or cannot format these messages.
    """
    handler = chat_handler(vocab, chat_format, path)
    probe = _PromptProbe(vocab)
    try:
        handler(llama=probe, messages=messages, stream=False)
    except _PromptCaptured as captured:
        return captured.tokens
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelError(
            f"Chat format '{chat_format}' cannot format these messages: {exc}"
        ) from exc
    raise ModelError(f"Chat format '{chat_format}' did not produce a prompt.")


def chat_handler(llama: Llama, chat_format: str, path: Path) -> Any:
    """The handler ``Llama.create_chat_completion`` uses for ``chat_format``."""
    handler = llama._chat_handlers.get(chat_format)  # templates stored in the GGUF file
    if handler is not None:
        return handler
    from llama_cpp import llama_chat_format

    try:
        return llama_chat_format.get_chat_completion_handler(chat_format)
    except llama_chat_format.LlamaChatCompletionHandlerNotFoundException as exc:
        raise ModelError(
            f"Unknown chat format '{chat_format}' for {path.name}: set "
            "KBCHAT_LOCAL_CHAT_FORMAT to one llama.cpp knows (llama-2, chatml, gemma, …)."
        ) from exc


class _PromptCaptured(Exception):
    def __init__(self, tokens: list[int]) -> None:
        super().__init__("prompt captured")
        self.tokens = tokens


class _PromptProbe:
    """Stands in for a ``Llama`` in a chat handler: tokenizes, then stops before generating."""

    verbose = False

    def __init__(self, llama: Llama) -> None:
        self._llama = llama

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(self._llama.tokenize(text, add_bos=add_bos, special=special))

    def create_completion(self, prompt: str | list[int], **_: object) -> None:
        if isinstance(prompt, str):
            raise _PromptCaptured(self.tokenize(prompt.encode("utf-8"), special=True))
        raise _PromptCaptured(list(prompt))
