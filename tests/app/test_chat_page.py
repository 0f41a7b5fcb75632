"""The Chat page, headless (`AppTest`), on a real index and the packaged SmolLM2 model."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from app.chat import NOT_ASKED, UNEXPECTED
from app.render import ZWSP
from kbchat.answering.service import NOTHING_FOUND, Answer, Answerer, AnswerStream, Turn
from kbchat.audit import audit_for
from kbchat.knowledge import run_ingest
from kbchat.ledger import ledger_for
from kbchat.llm.models import packaged_model
from kbchat.policy.gate import CloudGate
from kbchat.settings import Settings
from tests.conftest import make_settings
from tests.fixtures.cloud_app import cloud_env
from tests.fixtures.llm_server import SERVER_MODEL, start_llama_server

pytestmark = pytest.mark.integration

APP = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
TIMEOUT_S = 180  # the first question loads the model; answers take seconds on 2 cores
QUESTION = "How many days of annual leave do I get?"
FOLLOW_UP = "And how many of them can I carry over?"


def _write_corpus(root: Path) -> Path:
    (root / "hr").mkdir(parents=True)
    (root / "it").mkdir()
    (root / "hr" / "leave.md").write_text(
        "---\ntitle: Leave policy\n---\n# Leave policy\n\n"
        "## Annual leave\nEveryone gets 27 days of annual leave plus bank holidays.\n\n"
        "## Carry over\nUp to 5 unused days carry over until 31 March.\n",
        encoding="utf-8",
    )
    (root / "it" / "vpn.txt").write_text(
        "Connecting to the VPN\n\nInstall the QuillonConnect client from the software centre.\n"
        "Sign in with your work account and approve the MFA prompt.\n",
        encoding="utf-8",
    )
    (root / "welcome.md").write_text(
        "# Welcome\n\nYour buddy meets you at reception at 9:30 on your first day.\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small corpus ingested once for the module (index, ledger and models under tmp)."""
    tmp = tmp_path_factory.mktemp("chat-page")
    settings = make_settings(tmp, _write_corpus(tmp / "corpus"))
    run_ingest(settings)
    return settings


def _point_app_at(monkeypatch: pytest.MonkeyPatch, settings: Settings, **extra: str) -> None:
    monkeypatch.setenv("KBCHAT_INDEX_DIR", str(settings.paths.index_dir))
    monkeypatch.setenv("KBCHAT_CORPUS_DIR", str(settings.paths.corpus_dir))
    monkeypatch.setenv("KBCHAT_MODELS_DIR", str(settings.local.models_dir))  # empty: SmolLM2
    monkeypatch.setenv("KBCHAT_MAX_ANSWER_TOKENS", "48")
    for name, value in extra.items():
        monkeypatch.setenv(f"KBCHAT_{name}", value)


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, indexed: Settings) -> AppTest:
    """The app, pointed at the ingested index, after its first run."""
    _point_app_at(monkeypatch, indexed)
    return _started()


def _started() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, at.exception
    return at


def _ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def _unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _assistant_messages(at: AppTest) -> list[Any]:
    return [m for m in at.chat_message if m.name == "assistant"]


def _captions(block: Any) -> list[str]:
    return [_unescaped(c.value) for c in block.caption]


def test_question_gets_an_answer_with_notice_passages_timing_and_thumbs(
    app: AppTest, indexed: Settings
) -> None:
    metrics = {m.label: m.value for m in app.sidebar.metric}
    assert metrics == {"Documents": "3", "Chunks": metrics["Chunks"]} and metrics["Chunks"] != "0"
    assert "SmolLM2-135M-Instruct" in _unescaped(" ".join(m.value for m in app.sidebar.markdown))
    infos = " ".join(i.value for i in app.info)
    assert "Answers come from SmolLM2-135M-Instruct" in _unescaped(infos)
    assert any("is not present" in w.value for w in app.warning), "fallback notice missing"

    _ask(app, QUESTION)
    [assistant] = _assistant_messages(app)
    assert assistant.markdown[0].value.strip(), "the answer has no text"
    labels = [_unescaped(e.label) for e in assistant.expander]
    assert labels and all(re.match(r"\[\d+\] \S", label) for label in labels), labels
    assert any("hr/leave.md" in label for label in labels)
    passages = " ".join(t.value for t in assistant.text)
    assert "27 days" in passages
    assert len(assistant.get("download_button")) == len(labels)
    captions = _captions(assistant)
    assert any("first token" in c and "retrieval" in c for c in captions), captions
    assert any("Sources the answer cites" in c or "did not cite" in c for c in captions), captions

    ledger = ledger_for(indexed)
    [row] = [r for r in ledger.answers() if r["question"] == QUESTION]
    assert row["model"] == "SmolLM2-135M-Instruct" and row["fallback"] == 1
    assert row["retrieval_s"] is not None and row["session"]

    app.feedback[0].set_value(1).run()
    assert [f.rating for f in ledger.feedback([row["id"]])] == [1]
    app.feedback[0].set_value(0).run()
    assert [f.rating for f in ledger.feedback([row["id"]])] == [-1]

    # After reruns the past answer keeps its evidence, timing and rating.
    [assistant] = _assistant_messages(app)
    assert [_unescaped(e.label) for e in assistant.expander] == labels
    assert any("first token" in c for c in _captions(assistant))
    assert app.feedback[0].value == 0


def test_follow_up_passes_history_and_clear_empties_the_conversation(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    histories: list[list[Turn]] = []
    real_stream = Answerer.stream

    def spy(self: Answerer, retrieval: Any, history: Any = (), **kwargs: Any) -> AnswerStream:
        histories.append(list(history))
        return real_stream(self, retrieval, history, **kwargs)

    monkeypatch.setattr(Answerer, "stream", spy)
    _ask(app, QUESTION)
    first_answer = _assistant_messages(app)[0].markdown[0].value
    _ask(app, FOLLOW_UP)
    assert len(_assistant_messages(app)) == 2
    assert histories[0] == []
    [turn] = histories[1]
    assert turn.question == QUESTION and turn.answer.strip()
    assert first_answer.strip()

    app.button[0].click().run()  # "Clear conversation"
    assert not app.exception
    assert len(app.chat_message) == 0


def test_empty_index_asks_to_run_ingestion_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = make_settings(tmp_path, _write_corpus(tmp_path / "corpus"))
    _point_app_at(monkeypatch, empty)
    at = _ask(_started(), QUESTION)
    errors = " ".join(_unescaped(e.value) for e in at.error)
    assert "run ingestion first" in errors
    assert len(_assistant_messages(at)) == 1  # the error is shown in the chat


def test_question_not_covered_is_answered_without_passages(
    monkeypatch: pytest.MonkeyPatch, indexed: Settings
) -> None:
    # Nothing is relevant enough by either signal of the gate.
    _point_app_at(monkeypatch, indexed, MIN_RELEVANCE="0.99", MIN_KEYWORD_RELEVANCE="1000")
    at = _ask(_started(), QUESTION)
    [assistant] = _assistant_messages(at)
    assert _unescaped(assistant.markdown[0].value) == NOTHING_FOUND
    assert len(assistant.expander) == 0
    assert NOT_ASKED in _captions(assistant)


def test_unexpected_error_is_a_short_message_without_details(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("secret internals /etc/kbchat")

    monkeypatch.setattr(Answerer, "retrieve", broken)
    _ask(app, QUESTION)
    [assistant] = _assistant_messages(app)
    assert [_unescaped(e.value) for e in assistant.error] == [UNEXPECTED]  # shown exactly
    assert "secret internals" not in str(app.main)


def test_answer_text_is_sanitised_on_the_page(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = "See ![x](http://evil.example/i.png) and <img src=x> [link](http://evil.example)"

    def fake_stream(self: Answerer, retrieval: Any, *_args: Any, **_kwargs: Any) -> AnswerStream:
        answer = Answer(
            backend="private", model="fake", text=hostile, passages=list(retrieval.passages)
        )
        return AnswerStream(answer, None)

    monkeypatch.setattr(Answerer, "stream", fake_stream)
    _ask(app, QUESTION)
    [assistant] = _assistant_messages(app)
    shown = assistant.markdown[0].value
    assert "![" not in shown and "](" not in shown.replace("\\]", "")
    assert "\\<img" in shown
    assert _unescaped(shown).replace(ZWSP, "") == hostile  # shown as written
    for md in app.markdown:
        assert not md.allow_html


def test_waiting_for_the_model_is_cleared_when_the_answer_starts(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_stream = Answerer.stream

    def queued(self: Answerer, retrieval: Any, history: Any = (), **kwargs: Any) -> AnswerStream:
        stream = real_stream(self, retrieval, history, **kwargs)
        kwargs["on_wait"](2)  # as the model lock does when two questions are ahead
        return stream

    monkeypatch.setattr(Answerer, "stream", queued)
    _ask(app, QUESTION)
    [assistant] = _assistant_messages(app)
    assert not [i for i in assistant.info if "Waiting for the model" in i.value]
    assert assistant.markdown[0].value.strip()


# --- The model choice: private (default), ChatGPT when allowed, or both side by side ---------


@pytest.fixture(scope="module")
def cloud_url() -> Iterator[str]:
    """The ChatGPT stand-in (llama.cpp's OpenAI-compatible server), one per module."""
    with start_llama_server(packaged_model("smollm2"), chat_format="chatml", n_ctx=2048) as url:
        yield url


@pytest.fixture
def cloud_app(monkeypatch: pytest.MonkeyPatch, indexed: Settings, cloud_url: str) -> AppTest:
    """The app with ChatGPT allowed and pointed at the stand-in, after its first run."""
    _point_app_at(monkeypatch, indexed)
    for name, value in cloud_env(cloud_url).items():
        monkeypatch.setenv(name, value)
    return _started()


def _choose(at: AppTest, choice: str) -> None:
    at.radio(key="chat-choice").set_value(choice)


def test_chatgpt_is_disabled_with_the_reason_when_not_allowed(app: AppTest) -> None:
    [choice] = [r for r in app.radio if r.label == "Answer with"]
    assert choice.disabled and choice.value == "private"
    assert choice.options == ["Private", "ChatGPT", "Both side by side"]
    reasons = [_unescaped(c.value) for c in app.caption]
    assert any(
        c.startswith("ChatGPT is not available: The cloud model is switched off") for c in reasons
    )
    _ask(app, QUESTION)  # the private model still answers
    [assistant] = _assistant_messages(app)
    assert assistant.markdown[0].value.strip()


def test_chatgpt_answers_through_the_gate_with_timing_and_cost(
    cloud_app: AppTest, indexed: Settings
) -> None:
    [choice] = [r for r in cloud_app.radio if r.label == "Answer with"]
    assert not choice.disabled and choice.value == "private"  # private is the default
    _choose(cloud_app, "cloud")
    _ask(cloud_app, QUESTION)
    [assistant] = _assistant_messages(cloud_app)
    captions = _captions(assistant)
    assert "Nothing was withheld from ChatGPT: it got the same passages." in captions
    assert any(c.startswith(f"Answered by ChatGPT ({SERVER_MODEL})") for c in captions), captions
    shown = [_unescaped(m.value) for m in assistant.markdown]
    assert shown[0].strip(), "the answer has no text"
    [figures] = [m for m in shown if m.startswith("| Figure |")]
    for figure in ("Time to first token", "Total time", "Tokens in / out", "Cost estimate (USD)"):
        assert figure in figures, figures
    assert assistant.expander, "the passages sent to ChatGPT are listed"

    [row] = [r for r in ledger_for(indexed).answers() if r["backend"] == "cloud"]
    assert row["model"] == SERVER_MODEL and row["cost_usd"] is not None
    cloud_app.feedback[0].set_value(1).run()
    assert [f.rating for f in ledger_for(indexed).feedback([row["id"]])] == [1]
    calls = [e for e in audit_for(indexed).entries() if e.event == "cloud_call"]
    assert calls and calls[0].question == QUESTION


def test_both_answers_side_by_side_in_the_chat_and_the_follow_up_uses_the_private_one(
    cloud_app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    _choose(cloud_app, "both")
    _ask(cloud_app, QUESTION)
    [assistant] = _assistant_messages(cloud_app)
    titles = [m.value for m in assistant.markdown if m.value.startswith("####")]
    assert titles == ["#### Private model", "#### ChatGPT"]
    tables = [m.value for m in assistant.markdown if m.value.startswith("| Figure |")]
    assert len(tables) == 2
    assert [r.label for r in assistant.radio] == ["Which answer was better?"]

    histories: list[list[Turn]] = []
    real_stream = Answerer.stream

    def spy(self: Answerer, retrieval: Any, history: Any = (), **kwargs: Any) -> AnswerStream:
        histories.append(list(history))
        return real_stream(self, retrieval, history, **kwargs)

    monkeypatch.setattr(Answerer, "stream", spy)
    _choose(cloud_app, "private")
    _ask(cloud_app, FOLLOW_UP)
    [turn] = histories[0]
    assert turn.question == QUESTION and not turn.used_confidential
    [first, _second] = _assistant_messages(cloud_app)
    assert len([m for m in first.markdown if m.value.startswith("| Figure |")]) == 2  # kept


def test_an_answer_under_a_new_confidential_rule_is_kept_from_chatgpt(
    cloud_app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An admin makes hr/ confidential after a private answer drew on it: the follow-up to
    ChatGPT leaves that exchange out and withholds the hr passages."""
    _ask(cloud_app, QUESTION)  # private, from hr/leave.md
    reviewed: list[list[Turn]] = []
    real_review = CloudGate.review

    def spy(self: CloudGate, retrieval: Any, history: Any = ()) -> Any:
        reviewed.append(list(history))
        return real_review(self, retrieval, history)

    monkeypatch.setattr(CloudGate, "review", spy)
    monkeypatch.setenv("KBCHAT_CONFIDENTIAL_PATHS", "hr/**")
    cloud_app.run()
    _choose(cloud_app, "cloud")
    _ask(cloud_app, FOLLOW_UP)
    [[turn]] = reviewed
    assert turn.question == QUESTION and turn.used_confidential
    [_first, second] = _assistant_messages(cloud_app)
    [withheld] = [w for w in second.warning if "Withheld from ChatGPT" in w.value]
    assert "hr/leave.md" in _unescaped(withheld.value)
