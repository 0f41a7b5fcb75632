"""The Compare page, headless (`AppTest`): the private model (SmolLM2 in-process) and the
cloud model (SmolLM2 behind llama.cpp's OpenAI-compatible server on 127.0.0.1)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from kbchat.audit import audit_for
from kbchat.knowledge import run_ingest
from kbchat.ledger import ledger_for
from kbchat.settings import Settings
from tests.conftest import make_settings
from tests.fixtures.cloud_app import (
    API_KEY,
    CONFIDENTIAL_QUESTION,
    CONFIDENTIAL_SOURCE,
    QUESTION,
    closed_port_url,
    cloud_env,
    hr_corpus,
)
from tests.fixtures.llm_server import SERVER_MODEL
from tests.fixtures.parrot_server import parrot_server

pytestmark = pytest.mark.integration

APP = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
TIMEOUT_S = 120  # no model loads: the scripted engine and the parrot answer at once


@pytest.fixture(scope="module")
def cloud_url() -> Iterator[str]:
    """The ChatGPT stand-in, one per module: the parrot (real HTTP, the openai client). The
    page's wiring is under test, not what a model says: the private model is the scripted
    one (`point_app_at`), so every answer is known."""
    with parrot_server() as url:
        yield url


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The sample corpus's HR folder ingested once for the module."""
    tmp = tmp_path_factory.mktemp("compare-page")
    settings = make_settings(tmp, hr_corpus(tmp / "corpus"))
    report = run_ingest(settings)
    assert report.failed == [], report.failed
    return settings


def point_app_at(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, base_url: str, *, allowed: bool = True
) -> None:
    """The app's environment: this index, and the cloud model at ``base_url``."""
    monkeypatch.setenv("KBCHAT_INDEX_DIR", str(settings.paths.index_dir))
    monkeypatch.setenv("KBCHAT_CORPUS_DIR", str(settings.paths.corpus_dir))
    monkeypatch.setenv("KBCHAT_MODELS_DIR", str(settings.local.models_dir))
    monkeypatch.setenv("KBCHAT_LOCAL_ENGINE", "scripted")
    for name, value in cloud_env(base_url, allowed=allowed).items():
        monkeypatch.setenv(name, value)


def unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def texts(block: Any, kind: str) -> list[str]:
    """The unescaped values of every element of one kind under a block."""
    return [unescaped(str(e.value)) for e in block.get(kind)]


def all_text(block: Any) -> str:
    kinds = ("markdown", "caption", "error", "warning", "info", "success")
    return "\n".join(t for kind in kinds for t in texts(block, kind))


def open_compare() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.switch_page("views/compare.py").run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.text_input(key="compare-question").set_value(question)
    [submit] = [b for b in at.button if b.label in ("Compare", "Ask the private model")]
    submit.click().run()
    assert not at.exception, at.exception
    return at


def answer_columns(at: AppTest) -> list[Any]:
    """The bordered answer columns of the newest comparison (private, then cloud)."""
    columns = [
        c
        for c in at.main.columns
        if texts(c, "markdown")[:1] in (["#### Private model"], ["#### ChatGPT"])
    ]
    return columns[:2]


def test_both_answers_stream_side_by_side_with_figures_and_a_stored_judgement(
    monkeypatch: pytest.MonkeyPatch, indexed: Settings, cloud_url: str
) -> None:
    point_app_at(monkeypatch, indexed, cloud_url)
    at = ask(open_compare(), QUESTION)

    private, cloud = answer_columns(at)
    for column, model in ((private, "scripted"), (cloud, SERVER_MODEL)):
        shown = all_text(column)
        assert f"Model: {model}" in shown
        body = texts(column, "markdown")[1]  # after the column's title
        assert body.strip() and "| Figure |" not in body, shown
        for figure in ("Time to first token", "Total time", "Tokens in / out", "Groundedness"):
            assert figure in shown, (figure, shown)
        assert column.get("expander"), "the passages the answer was given are listed"
    assert "Cost estimate (USD) | $" in all_text(cloud)
    assert "Cost estimate" not in all_text(private)
    assert "No model is answering" in all_text(private)  # the scripted engine says so
    assert "Nothing was withheld from ChatGPT" in all_text(at.main)
    [agreement] = [m for m in at.metric if m.label == "Agreement"]
    assert re.fullmatch(r"\d+%", agreement.value)

    ledger = ledger_for(indexed)
    answers = {row["backend"]: row for row in ledger.answers() if row["question"] == QUESTION}
    assert set(answers) == {"private", "cloud"}
    assert answers["cloud"]["cost_usd"] is not None and answers["cloud"]["model"] == SERVER_MODEL

    [verdict] = [r for r in at.radio if r.label == "Which answer was better?"]
    verdict.set_value("cloud")
    [comment] = [t for t in at.text_input if t.label == "Comment (optional)"]
    comment.set_value("shorter and cites the policy")
    [save] = [b for b in at.button if b.label == "Save judgement"]
    save.click().run()
    assert not at.exception, at.exception
    [row] = ledger.judgements()
    assert row["verdict"] == "cloud" and row["comment"] == "shorter and cites the policy"
    assert row["question"] == QUESTION and row["topic"] == "hr"
    assert any("Judgement saved: ChatGPT better" in s.value for s in at.success)

    # The comparison stays on the page after reruns, with both answers and their figures.
    private, cloud = answer_columns(at)
    assert "Time to first token" in all_text(private) and "Time to first token" in all_text(cloud)
    calls = [e for e in audit_for(indexed).entries() if e.event == "cloud_call"]
    assert calls and calls[0].outcome == "ok"
    assert API_KEY not in str(at.main)


def test_confidential_passages_are_listed_as_withheld(
    monkeypatch: pytest.MonkeyPatch, indexed: Settings, cloud_url: str
) -> None:
    point_app_at(monkeypatch, indexed, cloud_url)
    at = ask(open_compare(), CONFIDENTIAL_QUESTION)
    [withheld] = [w for w in at.warning if "Withheld from ChatGPT" in w.value]
    shown = unescaped(withheld.value)
    assert CONFIDENTIAL_SOURCE in shown and "confidential" in shown
    private, cloud = answer_columns(at)
    given = [unescaped(e.label) for e in private.get("expander")]
    assert any(CONFIDENTIAL_SOURCE in label for label in given), given
    sent = [unescaped(e.label) for e in cloud.get("expander")]
    assert not any(CONFIDENTIAL_SOURCE in label for label in sent), sent
    if not sent:  # every passage found was confidential: the cloud was not asked, and says so
        assert "ChatGPT was not asked: Every passage found" in all_text(cloud)
        assert "Nothing to judge" in all_text(at.main)
    assert texts(private, "markdown")[1].strip(), "the private model answers from them all"
    assert "Redacted before sending" in all_text(at.main) or "Nothing needed redacting" in all_text(
        at.main
    )


def test_cloud_switched_off_says_why_and_the_private_model_answers(
    monkeypatch: pytest.MonkeyPatch, indexed: Settings, cloud_url: str
) -> None:
    point_app_at(monkeypatch, indexed, cloud_url, allowed=False)
    at = open_compare()
    assert any("switched off" in w.value for w in at.warning)
    assert [b.label for b in at.button if b.label == "Compare"] == []
    refusals_before = len(audit_for(indexed).entries(event="gate_refused"))
    calls_before = len(audit_for(indexed).entries(event="cloud_call"))
    ask(at, QUESTION)
    shown = all_text(at.main)
    assert "#### Private model" in shown and "#### ChatGPT" not in shown
    assert "Time to first token" in shown
    assert "ChatGPT was not offered" in shown
    assert not [r for r in at.radio if r.label == "Which answer was better?"]
    # the cloud was not even asked
    assert len(audit_for(indexed).entries(event="cloud_call")) == calls_before
    # ... and the fall-back to the private model alone is audited, as in every front end
    refusals = audit_for(indexed).entries(event="gate_refused")
    assert len(refusals) == refusals_before + 1
    assert refusals[0].question == QUESTION and refusals[0].user == "local"
    assert "switched off" in refusals[0].outcome


def test_a_failing_cloud_shows_in_its_column_while_the_private_answer_completes(
    monkeypatch: pytest.MonkeyPatch, indexed: Settings
) -> None:
    point_app_at(monkeypatch, indexed, closed_port_url())
    at = ask(open_compare(), QUESTION)
    private, cloud = answer_columns(at)
    errors = texts(cloud, "error")
    assert errors and errors[0].startswith("ChatGPT failed: could not reach"), errors
    assert not texts(private, "error")
    assert texts(private, "markdown")[1].strip()
    assert "Time to first token" in all_text(private)
    assert any("Nothing to judge" in c for c in texts(at.main, "caption"))
