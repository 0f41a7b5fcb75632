"""Confidential text never reaches the cloud, checked where it would arrive (issue 10, item 2,
and the gate's last check): the chat page, compare, `kbchat ask`, `kbchat chat`, `kbchat eval`.

The private model is the worst one for privacy (`tests.fixtures.parrot_server`: every answer
repeats the previous answer and its first passage), so a confidential fact it saw once is in
every later answer. The cloud stand-in sits behind the recording proxy; each test reads what
the proxy received. Two corpora: in one, a private turn draws on a confidential document and
later turns do not (the taint must pass on); in the other, an internal document quotes a
sentence from the middle of the confidential one (the gate must see the whole withheld text).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from kbchat.knowledge import run_ingest
from kbchat.settings import Settings
from tests.conftest import make_settings
from tests.fixtures.cli import kbchat
from tests.fixtures.cloud_app import cloud_env
from tests.fixtures.parrot_server import parrot_server
from tests.fixtures.recording_proxy import ProxyControl, recording_proxy

pytestmark = [pytest.mark.security, pytest.mark.integration]

APP = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
SECRET = (
    "Project Heron puts 42 roles at risk in the Leeds contact centre; the code word is BLUEFINCH."
)
MARKERS = ("BLUEFINCH", "42 roles")  # what must never arrive at the cloud
HERON = "What does Project Heron mean for the Leeds contact centre?"
LEAVE = "How many days of annual leave do I get?"
CARRY = "And how many of them can I carry over until March?"
FILLER = "The board reviewed the options, the costs and the timetable for every site in turn. "


def _write_corpus(root: Path, *, quoting: bool) -> Path:
    (root / "hr" / "private").mkdir(parents=True)
    (root / "it").mkdir()
    (root / "hr" / "private" / "heron.md").write_text(
        f"# Project Heron\n\n{FILLER * 3}{SECRET} {FILLER}\n", encoding="utf-8"
    )
    (root / "hr" / "leave.md").write_text(
        "# Leave policy\n\nEveryone gets 27 days of annual leave plus bank holidays; up to 5 "
        "unused days of annual leave carry over until 31 March.\n",
        encoding="utf-8",
    )
    (root / "it" / "vpn.txt").write_text(
        "Connecting to the VPN\n\nInstall the QuillonConnect client from the software centre.\n",
        encoding="utf-8",
    )
    if quoting:
        (root / "ops").mkdir()
        (root / "ops" / "minutes.md").write_text(
            "# Operations minutes\n\nThe canteen opens at eight from June and the car park gets "
            f"new barriers at every site. {FILLER * 2}Forwarded from HR about Project Heron "
            f"and the Leeds contact centre: {SECRET} Next meeting in July.\n",
            encoding="utf-8",
        )
    return root


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str, ProxyControl]]:
    """The private parrot, and the cloud stand-in behind the recording proxy."""
    with (
        parrot_server() as private,
        parrot_server() as cloud,
        recording_proxy(cloud.removesuffix("/v1")) as (proxy, control),
    ):
        yield private, f"{proxy}/v1", control


def _ingested(tmp: Path, *, quoting: bool) -> Settings:
    settings = make_settings(tmp, _write_corpus(tmp / "corpus", quoting=quoting))
    report = run_ingest(settings)
    assert not report.failed, report.failed
    return settings


@pytest.fixture(scope="module")
def conversation_kb(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _ingested(tmp_path_factory.mktemp("taint"), quoting=False)


@pytest.fixture(scope="module")
def quoting_kb(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _ingested(tmp_path_factory.mktemp("quoting"), quoting=True)


@pytest.fixture
def control(servers: tuple[str, str, ProxyControl]) -> ProxyControl:
    ctl = servers[2]
    ctl.reset()
    ctl.requests.clear()
    return ctl


def _env(kb: Settings, servers: tuple[str, str, ProxyControl], top_k: int) -> dict[str, str]:
    private, cloud, _control = servers
    return {
        **cloud_env(cloud),
        "KBCHAT_INDEX_DIR": str(kb.paths.index_dir),
        "KBCHAT_CORPUS_DIR": str(kb.paths.corpus_dir),
        "KBCHAT_MODELS_DIR": str(kb.local.models_dir),
        "KBCHAT_PRIVATE_BASE_URL": private,
        "KBCHAT_PRIVATE_MODEL": "parrot",
        "KBCHAT_TOP_K": str(top_k),
        "KBCHAT_MIN_RELEVANCE": "0",
    }


def _assert_nothing_confidential_arrived(control: ProxyControl) -> None:
    assert control.requests, "the cloud was asked (with what the gate let through)"
    received = control.bodies()
    for marker in MARKERS:
        assert marker not in received, f"confidential text reached the cloud: {marker!r}"


# --- The chat page ---------------------------------------------------------------------------


@pytest.fixture
def chat_app(
    monkeypatch: pytest.MonkeyPatch,
    conversation_kb: Settings,
    servers: tuple[str, str, ProxyControl],
) -> AppTest:
    for name, value in _env(conversation_kb, servers, top_k=1).items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def _chat(at: AppTest, question: str, choice: str = "private") -> Any:
    at.radio(key="chat-choice").set_value(choice)
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return [m for m in at.chat_message if m.name == "assistant"][-1]


def _private_turns_first(at: AppTest) -> None:
    """A private answer from the confidential document, then one from a harmless one that
    repeats it (as the parrot does; a real model may paraphrase)."""
    first = _chat(at, HERON)
    assert "BLUEFINCH" in first.markdown[0].value  # the private model used the document
    second = _chat(at, LEAVE)
    labels = " ".join(e.label for e in second.expander).replace("\\", "")
    assert "leave.md" in labels and "heron" not in labels  # no confidential passage here
    assert "BLUEFINCH" in second.markdown[0].value  # ... but it repeats the earlier answer


@pytest.mark.parametrize("choice", ["cloud", "both"])
def test_chat_page_keeps_a_tainted_conversation_from_chatgpt(
    chat_app: AppTest, control: ProxyControl, choice: str
) -> None:
    _private_turns_first(chat_app)
    assert not control.requests  # private turns never reach the cloud
    answer = _chat(chat_app, CARRY, choice)
    _assert_nothing_confidential_arrived(control)
    captions = " ".join(c.value for c in answer.caption)
    assert "2 earlier exchanges of this conversation were kept from ChatGPT" in captions
    [body] = [r.json() for r in control.requests]
    assert [m["role"] for m in body["messages"]] == ["system", "user"]  # no history went


# --- kbchat chat -----------------------------------------------------------------------------


def _chat_lines(result: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("choice", ["cloud", "both"])
def test_kbchat_chat_keeps_a_tainted_conversation_from_the_cloud(
    conversation_kb: Settings,
    servers: tuple[str, str, ProxyControl],
    control: ProxyControl,
    choice: str,
) -> None:
    lines = f"{HERON}\n{LEAVE}\n/model {choice}\n{CARRY}\n"
    env = _env(conversation_kb, servers, top_k=1)
    done = kbchat_input(["chat", "--json"], env, lines)
    assert done.returncode == 0, done.stderr
    first, second, third = _chat_lines(done)
    assert "BLUEFINCH" in first["answers"][0]["text"]
    assert [p["source"] for p in second["passages"]] == ["hr/leave.md"]
    assert "BLUEFINCH" in second["answers"][0]["text"]  # the follow-up repeats it
    assert third["history_withheld"] == 2 and third["turn"] == 3
    assert [a["backend"] for a in third["answers"]][-1] == "cloud"
    _assert_nothing_confidential_arrived(control)


def kbchat_input(args: list[str], env: dict[str, str], text: str) -> Any:
    """`kbchat ARGS` in a new process with ``text`` on standard input."""
    import os
    import subprocess
    import sys

    from tests.fixtures.cli import ROOT

    return subprocess.run(
        [sys.executable, "-m", "kbchat", *args], cwd=ROOT, env={**os.environ, **env},
        input=text, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


# --- A passage that quotes the middle of a confidential one: ask, eval, compare --------------


def test_kbchat_ask_withholds_a_passage_quoting_a_confidential_one(
    quoting_kb: Settings, servers: tuple[str, str, ProxyControl], control: ProxyControl
) -> None:
    env = _env(quoting_kb, servers, top_k=3)
    done = kbchat(["ask", HERON, "--model", "cloud", "--json"], env)
    assert done.returncode == 0, done.stderr
    _assert_nothing_confidential_arrived(control)
    result = json.loads(done.stdout)
    sources = {p["source"] for p in result["passages"]}
    assert {"hr/private/heron.md", "ops/minutes.md"} <= sources
    withheld = {w["source"]: w["reason"] for w in result["withheld"]}
    assert withheld == {
        "hr/private/heron.md": "confidential",
        "ops/minutes.md": "repeats a confidential passage",
    }
    _assert_nothing_confidential_arrived(control)


def test_kbchat_eval_keeps_confidential_text_from_the_cloud(
    quoting_kb: Settings,
    servers: tuple[str, str, ProxyControl],
    control: ProxyControl,
    tmp_path: Path,
) -> None:
    questions = tmp_path / "q.jsonl"
    rows = [{"question": HERON}, {"question": "Forwarded from HR about Project Heron?"}]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    done = kbchat(
        ["eval", str(questions), "--model", "cloud", "--json"], _env(quoting_kb, servers, 3)
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["rows"]) == 2
    _assert_nothing_confidential_arrived(control)


def test_compare_page_keeps_confidential_text_from_chatgpt(
    monkeypatch: pytest.MonkeyPatch,
    quoting_kb: Settings,
    servers: tuple[str, str, ProxyControl],
    control: ProxyControl,
) -> None:
    for name, value in _env(quoting_kb, servers, top_k=3).items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("views/compare.py").run()
    at.text_input(key="compare-question").set_value(HERON)
    [button] = [b for b in at.button if b.label == "Compare"]
    button.click().run()
    assert not at.exception, at.exception
    _assert_nothing_confidential_arrived(control)
    warnings = " ".join(w.value for w in at.warning)
    assert "minutes.md" in warnings.replace("\\", "")  # shown as withheld
