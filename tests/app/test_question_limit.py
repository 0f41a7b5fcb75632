"""The question length cap (KBCHAT_MAX_QUESTION_CHARS) on every surface: the chat page, the
compare page (headless `AppTest`) and `kbchat ask`; the core refuses before any model call."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from kbchat.answering.service import Answerer, AnswerStream
from kbchat.knowledge import run_ingest
from kbchat.ledger import ledger_for
from kbchat.settings import RetrievalSettings, Settings
from tests.conftest import make_settings
from tests.fixtures.cli import kbchat

pytestmark = pytest.mark.integration

APP = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
DEFAULT_LIMIT = RetrievalSettings(_env_file=None).max_question_chars  # type: ignore[call-arg]
LONG = ("How many days of annual leave do I get? " * 200)[: DEFAULT_LIMIT + 1]
MESSAGE = f"questions may have at most {DEFAULT_LIMIT:,} (KBCHAT_MAX_QUESTION_CHARS)"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("question-limit")
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "leave.md").write_text(
        "# Leave policy\n\nEveryone gets 27 days of annual leave plus bank holidays.\n",
        encoding="utf-8",
    )
    settings = make_settings(tmp, corpus)
    run_ingest(settings)
    return settings


def _env(settings: Settings) -> dict[str, str]:
    return {
        "KBCHAT_INDEX_DIR": str(settings.paths.index_dir),
        "KBCHAT_CORPUS_DIR": str(settings.paths.corpus_dir),
        "KBCHAT_MODELS_DIR": str(settings.local.models_dir),
        "KBCHAT_LOCAL_PRELOAD": "false",
    }


@pytest.fixture
def no_model_calls(monkeypatch: pytest.MonkeyPatch, indexed: Settings) -> list[str]:
    """The app's environment; records every question that reached a model."""
    for name, value in _env(indexed).items():
        monkeypatch.setenv(name, value)
    reached: list[str] = []
    real_stream = Answerer.stream

    def spy(self: Answerer, retrieval: Any, *args: Any, **kwargs: Any) -> AnswerStream:
        reached.append(retrieval.question)
        return real_stream(self, retrieval, *args, **kwargs)

    monkeypatch.setattr(Answerer, "stream", spy)
    return reached


def _unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def test_chat_page_refuses_a_question_over_the_limit(
    no_model_calls: list[str], indexed: Settings
) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.chat_input[0].set_value(LONG).run()
    assert not at.exception, at.exception
    errors = " ".join(_unescaped(e.value) for e in at.error)
    assert f"The question is {len(LONG):,} characters long" in errors
    assert MESSAGE in errors
    assert [m.name for m in at.chat_message] == ["user", "assistant"]  # shown in the chat
    assert no_model_calls == []
    assert not [r for r in ledger_for(indexed).answers() if r["question"] == LONG]


def test_compare_page_refuses_a_question_over_the_limit(no_model_calls: list[str]) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("views/compare.py").run()
    at.text_input(key="compare-question").set_value(LONG)
    [submit] = [b for b in at.button if b.label in ("Compare", "Ask the private model")]
    submit.click().run()
    assert not at.exception, at.exception
    errors = " ".join(_unescaped(e.value) for e in at.error)
    assert MESSAGE in errors
    assert no_model_calls == []


def test_ask_cli_refuses_a_question_over_the_configured_limit(indexed: Settings) -> None:
    env = {**_env(indexed), "KBCHAT_MAX_QUESTION_CHARS": "120"}
    done = kbchat(["ask", LONG[:121], "--json"], env, timeout=300)
    assert done.returncode == 1
    assert "The question is 121 characters long" in done.stderr
    assert "questions may have at most 120 (KBCHAT_MAX_QUESTION_CHARS)" in done.stderr
    assert done.stdout == ""
