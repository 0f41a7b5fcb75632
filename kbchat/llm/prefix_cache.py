"""The constant start of chat prompts, kept evaluated in a llama.cpp model between questions.

Every prompt kbchat sends begins the same way: the chat template's opening, the system
prompt, the header of the next turn. llama-cpp-python already reuses whatever start the new
prompt shares with the tokens the model evaluated last, but only those: after a prompt with
another system prompt or chat format (the model is shared), or after a reset, the next
question pays for its whole prompt again, and so does the first question after loading.

`PrefixCache` closes that gap. For each (chat format, system prompt) it evaluates the
constant prefix once and saves the model's memory of it (the KV cells of sequence 0: about
23 KB per token for SmolLM2-135M, 0.5 MB per token for Llama 2 7B, so 3 MB and 65 MB for
kbchat's ~125-token prefix). Before a question, `PrefixCache.prepare` restores that state
when it would spare more tokens than what the model holds already, so only the tokens after
the shared prefix are evaluated. The prefix is found by formatting two chats that differ
only in their first user message and taking their common tokens (`constant_prefix`), so it
is exact for any chat template.

A `PrefixCache` belongs to one model and is used only while holding that model's lock.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp import Llama

PrefixKey = tuple[str, str | None]
"""(chat format, system prompt or None): what decides the constant start of a prompt."""

# Two first user messages that differ from their first character: their formatted chats
# share exactly the part of the prompt that does not depend on the conversation.
PROBE_MESSAGES = ("a", "Z")
MIN_PREFIX_TOKENS = 16  # a shorter prefix (a template header alone) is not worth a state
DEFAULT_CAPACITY = 4  # saved prefixes per model, least recently used dropped first


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading tokens ``a`` and ``b`` have in common."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def constant_prefix(first: Sequence[int], second: Sequence[int]) -> list[int]:
    """The tokens two formatted prompts share at their start.

    Args:
        first: Tokens of one chat.
        second: Tokens of the same chat with another first user message.

    Returns:
        Their common leading tokens: the part every chat with this template and system
        prompt begins with.
    """
    return list(first[: common_prefix_len(first, second)])


def probe_chats(system_prompt: str | None) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Two chats with ``system_prompt`` that differ only in their user message."""
    head = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
    a, b = PROBE_MESSAGES
    return [*head, {"role": "user", "content": a}], [*head, {"role": "user", "content": b}]


def prefix_key(chat_format: str, messages: Sequence[dict[str, str]]) -> PrefixKey:
    """The key of a chat's constant prefix: its format and leading system prompt, if any."""
    first = messages[0] if messages else None
    system = first["content"] if first is not None and first["role"] == "system" else None
    return chat_format, system


@dataclass(frozen=True)
class SavedPrefix:
    """A prefix's tokens and the model state (sequence 0 of the KV cache) after them."""

    tokens: tuple[int, ...]
    state: Any  # ctypes array of bytes, handed back to llama.cpp as it is
    size: int  # bytes of ``state`` in use


class PrefixCache:
    """Saved prefix states of one llama.cpp model, at most ``capacity`` of them.

    Not thread-safe by itself: call it only while holding the model's lock.
    """

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, min_tokens: int = MIN_PREFIX_TOKENS
    ) -> None:
        """An empty cache.

        Args:
            capacity: Saved prefixes kept (one per chat format and system prompt); the
                least recently used is dropped first.
            min_tokens: Shorter prefixes are not saved.
        """
        self.capacity = capacity
        self.min_tokens = min_tokens
        self._saved: OrderedDict[PrefixKey, SavedPrefix] = OrderedDict()

    def __len__(self) -> int:
        return len(self._saved)

    @property
    def nbytes(self) -> int:
        """Memory all saved states take."""
        return sum(saved.size for saved in self._saved.values())

    def saved(self, key: PrefixKey) -> SavedPrefix | None:
        """The saved prefix for ``key``, if any (does not count as a use)."""
        return self._saved.get(key)

    def clear(self) -> None:
        """Forget every saved prefix."""
        self._saved.clear()

    def prime(self, llama: Llama, key: PrefixKey, prefix: Sequence[int]) -> bool:
        """Evaluate ``prefix`` and save its state, unless it is saved already or too short.

        Afterwards the model holds the prefix, so a question that starts with it evaluates
        only its own tokens.

        Returns:
            True when the prefix is saved (now or before).

        Raises:
            RuntimeError: When llama.cpp fails to evaluate the prefix.
        """
        if key in self._saved:
            self._saved.move_to_end(key)
            return True
        if len(prefix) < self.min_tokens:
            return False
        self._save(llama, key, prefix)
        return key in self._saved

    def prepare(
        self, llama: Llama, prompt: Sequence[int], key: PrefixKey, prefix: Sequence[int]
    ) -> int:
        """Make ``llama`` hold the longest start of ``prompt`` that it can have for free.

        What the model holds from the last prompt is kept when it covers more of ``prompt``
        than the saved prefix; otherwise the saved prefix is restored. The first time a
        key is seen its prefix is evaluated and saved (those tokens are evaluated anyway).
        The model is left holding exactly the tokens llama-cpp-python's ``generate`` will
        reuse, so the count returned is exact.

        Args:
            llama: The model (its lock held by the caller).
            prompt: The tokens llama.cpp will be given for this answer.
            key: Chat format and system prompt of ``prompt``.
            prefix: The constant prefix for ``key`` (`constant_prefix`).

        Returns:
            Prompt tokens this answer will not evaluate: they were already in the model.

        Raises:
            RuntimeError: When llama.cpp fails to evaluate the prefix.
        """
        limit = len(prompt) - 1  # llama.cpp evaluates at least one prompt token
        if limit <= 0:
            return 0
        held = min(common_prefix_len(_held_tokens(llama), prompt), limit)
        keep = reused = held
        saved = self._saved.get(key)
        if saved is not None:
            self._saved.move_to_end(key)
            covered = min(common_prefix_len(saved.tokens, prompt), limit)
            if covered > held:
                if _restore(llama, saved):
                    keep = reused = covered
                else:  # the model's memory is unknown now: start from nothing
                    del self._saved[key]
                    keep = reused = 0
        elif (
            len(prefix) >= self.min_tokens
            and len(prefix) <= limit
            and common_prefix_len(prefix, prompt) == len(prefix)
        ):
            reused = self._save(llama, key, prefix)  # the model now holds the prefix
            keep = len(prefix)
        if not _trim(llama, keep):
            llama.reset()
            reused = 0
        return reused

    def _save(self, llama: Llama, key: PrefixKey, prefix: Sequence[int]) -> int:
        """Bring the model to exactly ``prefix`` (evaluating what it lacks) and save it.

        Returns:
            Tokens of the prefix the model held already (not evaluated here).
        """
        base = common_prefix_len(_held_tokens(llama), prefix)
        if not _trim(llama, base):
            llama.reset()
            base = 0
        if base < len(prefix):
            llama.eval(list(prefix[base:]))
        saved = _snapshot(llama, prefix)
        if saved is not None:
            self._saved[key] = saved
            self._saved.move_to_end(key)
            while len(self._saved) > self.capacity:
                self._saved.popitem(last=False)
        return base


def _held_tokens(llama: Llama) -> Sequence[int]:
    """The tokens whose state the model holds (what it evaluated last, in order)."""
    tokens: list[int] = llama.input_ids[: llama.n_tokens].tolist()
    return tokens


def _memory(llama: Llama) -> Any:
    import llama_cpp

    return llama_cpp.llama_get_memory(llama.ctx)


def _trim(llama: Llama, n_tokens: int) -> bool:
    """Keep the first ``n_tokens`` of what the model holds; False if llama.cpp cannot."""
    if n_tokens >= llama.n_tokens:
        return n_tokens == llama.n_tokens
    import llama_cpp

    memory = _memory(llama)
    if memory is None or not llama_cpp.llama_memory_seq_rm(memory, 0, n_tokens, -1):
        return False
    llama.n_tokens = n_tokens
    return True


def _snapshot(llama: Llama, prefix: Sequence[int]) -> SavedPrefix | None:
    """Save sequence 0 of the model's memory, which holds exactly ``prefix``."""
    import llama_cpp

    capacity = llama_cpp.llama_state_seq_get_size(llama.ctx, 0)
    if capacity <= 0:
        return None
    buffer = (ctypes.c_uint8 * capacity)()
    size = llama_cpp.llama_state_seq_get_data(llama.ctx, buffer, capacity, 0)
    if size <= 0 or size > capacity:
        return None
    return SavedPrefix(tuple(prefix), buffer, int(size))


def _restore(llama: Llama, saved: SavedPrefix) -> bool:
    """Replace what the model holds by a saved prefix; False (model emptied) on failure."""
    import llama_cpp

    memory = _memory(llama)
    llama.reset()
    if memory is None:
        return False
    llama_cpp.llama_memory_clear(memory, False)
    if llama_cpp.llama_state_seq_set_data(llama.ctx, saved.state, saved.size, 0) != saved.size:
        llama_cpp.llama_memory_clear(memory, False)
        return False
    n = len(saved.tokens)
    llama.input_ids[:n] = saved.tokens
    llama.n_tokens = n
    return True
