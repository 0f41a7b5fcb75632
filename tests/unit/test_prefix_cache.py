"""The pure parts of the prompt-prefix cache: common prefixes, probe chats, keys."""

from __future__ import annotations

import pytest

from kbchat.llm.prefix_cache import (
    PROBE_MESSAGES,
    PrefixCache,
    common_prefix_len,
    constant_prefix,
    prefix_key,
    probe_chats,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([], [], 0),
        ([1, 2, 3], [], 0),
        ([1, 2, 3], [1, 2, 3], 3),
        ([1, 2, 3], [1, 2, 3, 4, 5], 3),
        ([1, 2, 3, 4], [1, 2, 9, 4], 2),
        ([7, 2], [1, 2], 0),
    ],
)
def test_common_prefix_len(a: list[int], b: list[int], expected: int) -> None:
    assert common_prefix_len(a, b) == expected
    assert common_prefix_len(b, a) == expected
    assert common_prefix_len(tuple(a), b) == expected


def test_constant_prefix_stops_where_the_prompts_differ() -> None:
    template = [1, 50, 51, 52, 60]  # BOS, system turn, user header
    first = [*template, 101, 102, 2]
    second = [*template, 201, 2]
    assert constant_prefix(first, second) == template
    assert constant_prefix(first, first) == first
    assert constant_prefix(first, [9, *template]) == []


def test_probe_chats_differ_only_in_the_user_message_from_its_first_character() -> None:
    first, second = probe_chats("Be brief.")
    assert first[0] == second[0] == {"role": "system", "content": "Be brief."}
    assert [m["role"] for m in first] == [m["role"] for m in second] == ["system", "user"]
    a, b = first[1]["content"], second[1]["content"]
    assert (a, b) == PROBE_MESSAGES and a[0] != b[0]
    no_system = probe_chats(None)
    assert [m["role"] for m in no_system[0]] == ["user"]


def test_prefix_key_is_format_and_leading_system_prompt() -> None:
    chat = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
    ]
    assert prefix_key("chatml", chat) == ("chatml", "S")
    assert prefix_key("llama-2", chat) == ("llama-2", "S")
    assert prefix_key("chatml", chat[1:]) == ("chatml", None)
    assert prefix_key("chatml", []) == ("chatml", None)


def test_an_empty_cache_holds_nothing() -> None:
    cache = PrefixCache(capacity=2)
    assert len(cache) == 0 and cache.nbytes == 0
    assert cache.saved(("chatml", "S")) is None
