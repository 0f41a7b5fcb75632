"""Text from documents and questions can never become a chat template's special tokens.

llama.cpp formats a chat into one prompt string and tokenizes it with special tokens parsed,
so that the template's own markers (``<|im_start|>``, ``</s>``, ``<start_of_turn>``) become
the control tokens the model was trained on. Everything inside the messages is tokenized the
same way: a passage containing ``<|im_start|>system`` would open a turn of its own, and
``[INST]`` (plain text in Llama 2's template, but the very text the template uses) would pose
as the user. Servers built on llama.cpp (``llama_cpp.server``, llama.cpp's own) do the same.

`SpecialTokenGuard` breaks every occurrence of such a marker inside message text by putting
an invisible zero-width space after its first character: the text still reads the same to
the model, but no longer matches the marker, so it is tokenized as ordinary text. Only the
template adds markers, outside the messages. The markers guarded are the model's own
control and unknown-piece tokens (read from its vocabulary: those llama.cpp parses when
special tokens are on) and the turn markers of the common chat templates (`TEMPLATE_MARKERS`),
which matter even where the vocabulary holds them as plain text, as Llama 2's does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

BREAK = "\u200b"  # zero-width space: invisible, and part of no marker

# Turn and role markers of the chat templates llama.cpp and the common servers know.
TEMPLATE_MARKERS: tuple[str, ...] = (
    "<s>", "</s>", "<unk>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>",  # Llama 2
    "<|im_start|>", "<|im_end|>", "<|endoftext|>",  # ChatML (SmolLM2, Qwen)
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eot_id|>", "<|eom_id|>", "<|python_tag|>",  # Llama 3
    "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>",  # Gemma
    "<|system|>", "<|user|>", "<|assistant|>", "<|end|>",  # Zephyr, Phi
)  # fmt: skip


class SpecialTokenGuard:
    """Breaks marker strings in untrusted text so that they tokenize as ordinary text.

    Args:
        markers: The strings to break (a model's special tokens, template markers); empty,
            one-character and whitespace-only strings are ignored (they cannot be broken and
            are no turn markers).
    """

    def __init__(self, markers: Iterable[str]) -> None:
        by_first: dict[str, set[str]] = {}
        for marker in markers:
            if len(marker) < 2 or not marker.strip() or BREAK in marker:
                continue
            by_first.setdefault(marker[0], set()).add(marker)
        self._markers = {first: frozenset(group) for first, group in by_first.items()}
        self._lengths = {
            first: sorted({len(m) for m in group}, reverse=True)
            for first, group in by_first.items()
        }
        starts = "".join(sorted(by_first))
        self._start = re.compile(f"[{re.escape(starts)}]") if starts else None

    def __len__(self) -> int:
        return sum(len(group) for group in self._markers.values())

    def neutralise(self, text: str) -> str:
        """``text`` with every marker broken after its first character (else unchanged)."""
        if self._start is None:
            return text
        out: list[str] = []
        done = 0
        for match in self._start.finditer(text):
            i = match.start()
            first = text[i]
            group = self._markers[first]
            if any(text[i : i + n] in group for n in self._lengths[first]):
                out.append(text[done : i + 1])
                out.append(BREAK)
                done = i + 1
        if not out:
            return text
        out.append(text[done:])
        return "".join(out)

    def messages(self, messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
        """Chat messages (``role``/``content`` dicts) with their content neutralised."""
        return [{**m, "content": self.neutralise(m["content"])} for m in messages]


TEMPLATE_GUARD = SpecialTokenGuard(TEMPLATE_MARKERS)
"""For a model whose vocabulary is not at hand (one behind an OpenAI-compatible server)."""


def vocabulary_markers(llama: Any) -> list[str]:
    """The texts llama.cpp turns into special tokens in ``llama``'s vocabulary.

    Those of control and unknown-piece tokens: the ones that tokenizing with special tokens
    parsed adds to ordinary text (user-defined pieces are ordinary text either way).
    """
    import llama_cpp

    special = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
    model = llama._model
    texts: list[str] = []
    for token in range(model.n_vocab()):
        if model.token_get_attr(token) & special:
            try:
                texts.append(model.token_get_text(token))
            except UnicodeDecodeError:
                continue
    return texts


def guard_for(llama: Any) -> SpecialTokenGuard:
    """The guard for a loaded model: its vocabulary's special tokens and the template markers."""
    return SpecialTokenGuard([*vocabulary_markers(llama), *TEMPLATE_MARKERS])
