"""Answering from a real index with the real packaged model (llama.cpp in-process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kbchat.answerers import private_answerer
from kbchat.answering.service import NOTHING_FOUND, Answerer, Turn
from kbchat.llm.models import packaged_model
from kbchat.settings import Settings
from tests.conftest import make_settings
from tests.fixtures.gemma3 import CHAT_FORMAT as GEMMA3_CHAT_FORMAT
from tests.fixtures.gemma3 import gemma3_model

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def answerer(sample_settings: Settings) -> Answerer:
    built, resolved = private_answerer(sample_settings)
    assert resolved is not None and resolved.fallback, "Llama 2 is absent here: SmolLM2 stands in"
    return built


def test_answers_from_the_index_with_the_fallback_model_named(answerer: Answerer) -> None:
    retrieval = answerer.retrieve("How many days of annual leave do I get?")
    assert retrieval.relevant
    assert retrieval.passages[0].source == "hr/annual_leave_policy.md"
    stream = answerer.stream(retrieval)
    deltas = list(stream)
    answer = stream.answer
    assert len(deltas) > 1, "the answer streams in pieces"
    assert answer.text.strip() and answer.answered_by_model
    assert answer.model == "SmolLM2-135M-Instruct" and answer.fallback
    assert answer.notice and "Llama 2 7B Chat is not present" in answer.notice
    assert "kbchat models pull" in answer.notice
    stats = answer.stats
    assert stats is not None and stats.tokens_in > 100 and 0 < stats.tokens_out <= 64
    assert stats.ttft_s is not None and stats.ttft_s <= stats.seconds
    assert {c.n for c in answer.citations} <= {p.n for p in answer.passages}


def test_off_topic_question_is_refused_without_the_model(answerer: Answerer) -> None:
    retrieval = answerer.retrieve("Who won the 2018 football World Cup?")
    assert not retrieval.relevant
    answer = answerer.stream(retrieval).consume()
    assert answer.text == NOTHING_FOUND and not answer.answered_by_model
    assert answer.stats is None


def test_follow_up_uses_the_conversation(answerer: Answerer) -> None:
    first = "What's the most I can pay per night for a hotel in London?"
    retrieval = answerer.retrieve("And in Toronto?", [Turn(first, "220 pounds [1].")])
    assert "travel/per_diem_rates.csv" in [p.source for p in retrieval.passages]
    answer = answerer.stream(retrieval, [Turn(first, "220 pounds [1].")]).consume()
    assert answer.text.strip()


def test_passages_are_cut_to_the_context_window(sample_settings: Settings, tmp_path: Path) -> None:
    small = make_settings(
        tmp_path,
        local={"local_n_ctx": 700},
        generation={"max_answer_tokens": 64},
        index={},
    )
    small.paths = sample_settings.paths
    answerer, _ = private_answerer(small)
    retrieval = answerer.retrieve("What does the travel policy say about flights and hotels?")
    answer = answerer.stream(retrieval).consume()
    assert answer.dropped_passages > 0
    assert answer.stats is not None
    assert answer.stats.tokens_in + 64 <= 700


def test_simultaneous_questions_are_all_answered(answerer: Answerer) -> None:
    questions = [
        "How many days of annual leave do I get?",
        "Which app approves MFA sign-ins?",
        "How long do I have to submit receipts after a trip?",
        "Who are the fire wardens in Leeds?",
    ]
    answers: dict[str, str] = {}
    errors: list[BaseException] = []
    waited: list[int] = []

    def ask(question: str) -> None:
        try:
            retrieval = answerer.retrieve(question)
            answers[question] = answerer.stream(retrieval, on_wait=waited.append).consume().text
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert errors == []
    assert set(answers) == set(questions) and all(a.strip() for a in answers.values())
    assert waited, "requests queued for the model and were told so"


def test_second_architecture_answers_through_the_same_code(
    sample_settings: Settings, tmp_path: Path
) -> None:
    gemma = make_settings(
        tmp_path,
        local={
            "local_model_path": gemma3_model(),
            "local_chat_format": GEMMA3_CHAT_FORMAT,
            "local_n_ctx": 2048,
        },
        generation={"max_answer_tokens": 32},
    )
    gemma.paths = sample_settings.paths
    answerer, resolved = private_answerer(gemma)
    assert resolved is not None and not resolved.fallback
    answer = answerer.stream(answerer.retrieve("How many days of annual leave?")).consume()
    assert answer.text.strip() and answer.stats and answer.stats.tokens_out > 0


def test_ask_json_contract(sample_settings: Settings) -> None:
    env = {
        **os.environ,
        "KBCHAT_INDEX_DIR": str(sample_settings.paths.index_dir),
        "KBCHAT_CORPUS_DIR": str(sample_settings.paths.corpus_dir),
        "KBCHAT_MODELS_DIR": str(sample_settings.local.models_dir),
        "KBCHAT_LOCAL_N_CTX": "2048",
        "KBCHAT_MAX_ANSWER_TOKENS": "48",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kbchat",
            "ask",
            "How many days of annual leave do I get?",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["question"] == "How many days of annual leave do I get?"
    assert result["passages"][0]["source"] == "hr/annual_leave_policy.md"
    (answer,) = result["answers"]
    for key in (
        "backend",
        "model",
        "text",
        "citations",
        "ttft_s",
        "seconds",
        "tokens_in",
        "tokens_out",
        "fallback",
    ):
        assert key in answer
    assert answer["backend"] == "private" and answer["fallback"] is True
    assert result["withheld"] == [] and result["redactions"] == {}
    assert answer["model"] == "SmolLM2-135M-Instruct"
    human = subprocess.run(
        [sys.executable, "-m", "kbchat", "ask", "How many days of annual leave do I get?"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert human.returncode == 0
    assert "SmolLM2-135M-Instruct" in human.stderr and "kbchat models pull" in human.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "kbchat", "models", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Llama 2 7B Chat" in listed.stdout and "missing" in listed.stdout
    assert "in use (stand-in)" in listed.stdout


def test_private_model_behind_a_company_server_answers_the_same_way(
    sample_settings: Settings, tmp_path: Path
) -> None:
    from tests.fixtures.llm_server import start_llama_server

    with start_llama_server(packaged_model("smollm2"), chat_format="chatml", n_ctx=2048) as url:
        served = make_settings(
            tmp_path,
            local={"local_n_ctx": 2048},
            private_server={"private_base_url": url, "private_model": "company-llm"},
            generation={"max_answer_tokens": 32},
        )
        served.paths = sample_settings.paths
        answerer, resolved = private_answerer(served)
        assert resolved is None and answerer.backend.model_name == "company-llm"
        stream = answerer.stream(answerer.retrieve("How many days of annual leave do I get?"))
        answer = stream.consume()
    assert answer.backend == "private" and not answer.fallback
    assert answer.text.strip() and answer.stats and answer.stats.tokens_out > 0
