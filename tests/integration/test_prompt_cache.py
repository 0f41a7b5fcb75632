"""The prompt prefix kept between questions, on real llama.cpp with the packaged SmolLM2.

What llama.cpp actually evaluated is read from its own performance counters (prompt tokens
decoded), independently of the ``cached_tokens`` the backend reports.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from kbchat.answering.prompt import SYSTEM_PROMPT, Passage, build_messages
from kbchat.answering.service import Answerer
from kbchat.knowledge import index_for
from kbchat.llm.base import ChatMessage, GenerationStats
from kbchat.llm.llamacpp import LlamaCppBackend
from kbchat.llm.prefix_cache import PrefixCache
from kbchat.settings import Settings
from tests.fixtures.llm_backends import smollm2_backend

pytestmark = pytest.mark.integration

N_CTX = 1536
QUESTIONS = [
    "How many days of annual leave do I get?",
    "Which app do I install to approve sign-ins?",
    "How long do I have to submit my receipts after a trip?",
    "Who needs to sign off a purchase order worth 12,000 pounds?",
]
OTHER_SYSTEM = "You answer in one short sentence."


def _backend(chat_format: str = "chatml", *, prefix_cache: bool = True) -> LlamaCppBackend:
    # One thread, as default_threads() gives on this 2-core machine.
    return smollm2_backend(chat_format=chat_format, n_ctx=N_CTX, prefix_cache=prefix_cache)


@pytest.fixture(scope="module")
def backend() -> LlamaCppBackend:
    model = _backend()
    model.warm_up()
    return model


@pytest.fixture(scope="module")
def chats(sample_settings: Settings) -> list[list[ChatMessage]]:
    """kbchat's real prompts for the questions (two passages each, to keep tests quick)."""
    answerer = Answerer(index_for(sample_settings), _backend())
    return [
        build_messages(
            q, [Passage(n, p.hit) for n, p in enumerate(answerer.retrieve(q).passages[:2], 1)]
        )
        for q in QUESTIONS
    ]


@pytest.fixture
def fresh(backend: LlamaCppBackend) -> Iterator[LlamaCppBackend]:
    """The shared model emptied: nothing evaluated, no prefix saved."""
    _empty(backend)
    yield backend
    _empty(backend)


def _empty(backend: LlamaCppBackend) -> None:
    shared = backend.shared
    shared.lock.acquire()
    try:
        shared.llama().reset()
        shared.prefixes.clear()
    finally:
        shared.lock.release()


def _ask(
    backend: LlamaCppBackend, messages: list[ChatMessage], max_tokens: int = 24
) -> tuple[str, GenerationStats, int]:
    """Answer greedily; return the text, the stats and the prompt tokens llama.cpp decoded."""
    import llama_cpp

    ctx = backend.shared.llama().ctx
    llama_cpp.llama_perf_context_reset(ctx)
    stream = backend.stream_chat(messages, max_tokens=max_tokens, temperature=0.0)
    text = "".join(stream)
    decoded = llama_cpp.llama_perf_context(ctx).n_p_eval
    assert stream.stats is not None
    return text, stream.stats, decoded


def _prefix(backend: LlamaCppBackend, system: str = SYSTEM_PROMPT) -> list[int]:
    return backend.shared.constant_prefix((backend.chat_format, system))


def test_the_prefix_is_the_system_turn_and_the_user_header(fresh: LlamaCppBackend) -> None:
    prefix = _prefix(fresh)
    vocab = fresh.shared._vocab_model()
    text = vocab.detokenize(prefix, special=True).decode()
    assert text.startswith("<|im_start|>system\nYou are kbchat")
    assert text.endswith("<|im_end|>\n<|im_start|>user\n")
    llama2 = _prefix(_backend("llama-2"))
    text2 = vocab.detokenize(llama2, special=True).decode()
    assert "[INST] <<SYS>>" in text2 and text2.rstrip().endswith("<</SYS>>")


def test_first_question_after_warm_up_evaluates_only_its_own_tokens(
    fresh: LlamaCppBackend, chats: list[list[ChatMessage]]
) -> None:
    fresh.warm_up(SYSTEM_PROMPT)
    prefix = _prefix(fresh)
    assert len(prefix) > 100
    _, stats, decoded = _ask(fresh, chats[0])
    assert stats.cached_tokens == len(prefix)
    assert decoded == stats.tokens_in - len(prefix)


def test_second_question_reuses_the_prefix_saved_by_the_first(
    fresh: LlamaCppBackend, chats: list[list[ChatMessage]]
) -> None:
    _, first, decoded = _ask(fresh, chats[0])
    assert first.cached_tokens == 0 and decoded == first.tokens_in
    assert fresh.shared.prefixes.saved(("chatml", SYSTEM_PROMPT)) is not None
    _, second, decoded = _ask(fresh, chats[1])
    # At least the prefix; more when the two prompts share text after it.
    assert second.cached_tokens >= len(_prefix(fresh))
    assert decoded == second.tokens_in - second.cached_tokens


def test_prefix_is_restored_after_another_format_or_system_prompt_used_the_model(
    fresh: LlamaCppBackend, chats: list[list[ChatMessage]]
) -> None:
    prefix = _prefix(fresh)
    fresh.warm_up(SYSTEM_PROMPT)
    _ask(fresh, chats[0])
    other_format = _backend("llama-2")
    assert other_format.shared is fresh.shared
    _, stats, _ = _ask(other_format, chats[1])
    assert stats.cached_tokens < 5  # nothing in common with the ChatML prompt
    _, stats, decoded = _ask(fresh, chats[2])
    assert stats.cached_tokens == len(prefix)
    assert decoded == stats.tokens_in - len(prefix)
    _ask(fresh, [ChatMessage("system", OTHER_SYSTEM), ChatMessage("user", "Capital of France?")])
    _, stats, decoded = _ask(fresh, chats[3])
    assert stats.cached_tokens == len(prefix)
    assert decoded == stats.tokens_in - len(prefix)
    # Each format keeps its own prefix: the Llama 2 one comes back too.
    _, stats, decoded = _ask(other_format, chats[0])
    assert stats.cached_tokens == len(_prefix(other_format))
    assert decoded == stats.tokens_in - stats.cached_tokens


def test_same_greedy_answers_with_and_without_the_cache(
    fresh: LlamaCppBackend, chats: list[list[ChatMessage]]
) -> None:
    cold_backend = _backend(prefix_cache=False)
    cold = []
    for messages in chats:
        _empty(cold_backend)  # a fresh model for every question: no reuse at all
        text, stats, decoded = _ask(cold_backend, messages, max_tokens=48)
        assert stats.cached_tokens == 0 and decoded == stats.tokens_in
        cold.append(text)
    _empty(fresh)
    fresh.warm_up(SYSTEM_PROMPT)
    cached = []
    for i, messages in enumerate(chats):
        if i == 2:  # another prompt moves the model away from the prefix
            _ask(fresh, [ChatMessage("system", OTHER_SYSTEM), ChatMessage("user", "Hi")])
        text, stats, _ = _ask(fresh, messages, max_tokens=48)
        assert stats.cached_tokens >= len(_prefix(fresh))
        cached.append(text)
    assert all(t.strip() for t in cold)
    assert cached == cold


def test_a_stream_closed_early_leaves_the_cache_usable(
    fresh: LlamaCppBackend, chats: list[list[ChatMessage]]
) -> None:
    expected, _, _ = _ask(fresh, chats[1], max_tokens=32)
    _empty(fresh)
    fresh.warm_up(SYSTEM_PROMPT)
    stream = fresh.stream_chat(chats[0], max_tokens=48, temperature=0.0)
    assert next(stream)
    stream.close()
    assert not fresh.shared.lock.locked
    text, stats, decoded = _ask(fresh, chats[1], max_tokens=32)
    assert stats.cached_tokens >= len(_prefix(fresh))
    assert decoded == stats.tokens_in - stats.cached_tokens
    assert text == expected


def test_saved_prefixes_are_bounded(fresh: LlamaCppBackend) -> None:
    cache = PrefixCache(capacity=2)
    systems = [f"You are assistant number {i}. {SYSTEM_PROMPT}" for i in range(3)]
    shared = fresh.shared
    shared.lock.acquire()
    try:
        llama = shared.llama()
        for system in systems:
            assert cache.prime(llama, ("chatml", system), _prefix(fresh, system))
    finally:
        shared.lock.release()
    assert len(cache) == 2
    assert cache.saved(("chatml", systems[0])) is None
    assert all(cache.saved(("chatml", s)) is not None for s in systems[1:])
    # A few MB per saved prefix of ~130 tokens for this model, not the whole context.
    assert 0 < cache.nbytes < 2 * 10_000_000
    short = ("chatml", None)
    assert not cache.prime(llama, short, _prefix(fresh, "")[:3])
    assert len(cache) == 2


def test_concurrent_backends_are_served_one_at_a_time_with_the_same_answers(
    fresh: LlamaCppBackend, chats: list[list[ChatMessage]]
) -> None:
    other = _backend("llama-2")
    jobs: list[tuple[LlamaCppBackend, list[ChatMessage]]] = [
        (fresh, chats[0]),
        (other, chats[1]),
        (fresh, chats[2]),
        (other, chats[3]),
    ]
    alone = []
    for backend, messages in jobs:
        _empty(fresh)
        alone.append(_ask(backend, messages)[0])
    _empty(fresh)
    fresh.warm_up(SYSTEM_PROMPT)
    start = threading.Barrier(len(jobs))
    results: dict[int, tuple[str, GenerationStats | None, list[int]]] = {}
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        backend, messages = jobs[i]
        waits: list[int] = []
        try:
            stream = backend.stream_chat(
                messages, max_tokens=24, temperature=0.0, on_wait=waits.append
            )
            start.wait()
            results[i] = ("".join(stream), stream.stats, waits)
        except BaseException as exc:  # noqa: BLE001 - surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors
    assert [results[i][0] for i in range(len(jobs))] == alone
    assert any(waits for _, _, waits in results.values()), "nobody was told to wait"
    stats = [s for _, s, _ in results.values() if s is not None]
    assert len(stats) == len(jobs)
    # Whatever the order, every prompt after the first of its format found its prefix.
    assert sum(s.cached_tokens > 0 for s in stats) >= len(jobs) - 1
    assert not fresh.shared.lock.locked and fresh.shared.lock.waiting == 0


def test_answer_json_shows_the_cached_tokens(
    sample_settings: Settings, backend: LlamaCppBackend
) -> None:
    answerer = Answerer(index_for(sample_settings), backend, max_answer_tokens=16, temperature=0.0)
    _empty(backend)
    backend.warm_up(SYSTEM_PROMPT)
    answer = answerer.stream(answerer.retrieve(QUESTIONS[0])).consume()
    shown = answer.to_dict()
    assert shown["cached_tokens"] == len(_prefix(backend)) > 0
    assert shown["tokens_in"] > shown["cached_tokens"]


def test_the_ui_preloads_the_model_and_its_instructions(
    sample_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """KBCHAT_LOCAL_PRELOAD: the UI's answerer loads the model and reads the instructions in
    the background, so the first question evaluates only its own tokens."""
    import time

    from app import services

    # A context size no other test uses: a model of its own, not loaded by anyone before.
    config = sample_settings.model_copy(
        update={"local": sample_settings.local.model_copy(update={"local_n_ctx": 1664})}
    )
    answerer = services.answerer(config)
    backend = answerer.backend
    assert isinstance(backend, LlamaCppBackend)
    key = (backend.chat_format, SYSTEM_PROMPT)
    deadline = time.monotonic() + 300  # a deadline for a background load, not a speed check
    while backend.shared.prefixes.saved(key) is None and time.monotonic() < deadline:
        time.sleep(0.5)
    saved = backend.shared.prefixes.saved(key)
    assert backend.shared.loaded and saved is not None

    answer = answerer.stream(answerer.retrieve(QUESTIONS[0])).consume()
    assert answer.stats is not None
    assert answer.stats.cached_tokens >= len(saved.tokens)
