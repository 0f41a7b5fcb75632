"""An admin's label is in force from the moment it is saved, checked where the data arrives.

The cloud is the parrot (a real OpenAI-compatible server on 127.0.0.1) behind a recording
proxy that keeps every request body; the private model is the scripted one, which quotes the
passages it is given word for word, so an earlier answer drawn from the document is easy to
spot if it travels on. A document is ingested as internal, an admin relabels it
confidential (with ``kbchat docs label``, or on the Admin page), and the cloud model is asked
about it (``kbchat ask --model cloud``/``both``, the chat page): its text must never arrive, not
even when another process holds the ingestion lock so the index keeps the old label, and not
through a turn of the conversation answered before the relabel. An unusable
``admin_settings.json`` keeps the cloud off: no request arrives at all.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from kbchat.admin.auth import hash_password
from kbchat.admin.documents import set_sensitivity
from kbchat.knowledge import manifest_for, run_ingest
from kbchat.overrides import overrides_path, set_override
from kbchat.settings import Settings
from tests.conftest import make_settings
from tests.fixtures.cli import ROOT, kbchat
from tests.fixtures.cloud_app import cloud_env
from tests.fixtures.parrot_server import parrot_cloud
from tests.fixtures.recording_proxy import ProxyControl

pytestmark = [pytest.mark.security, pytest.mark.integration]

APP = str(ROOT / "app" / "main.py")
ADMIN = str(ROOT / "app" / "views" / "admin.py")
PASSWORD = "a long admin password"
TIMEOUT_S = 240

SECRET_SOURCE = "finance/forecast.md"
SECRET_LINES = [
    "The Orion forecast projects revenue of 4.7 million pounds for the third quarter.",
    "Orion margin targets assume the Halberd acquisition closes before the end of October.",
]
SECRET_QUESTION = "What revenue does the Orion forecast project for the third quarter?"
OTHER_QUESTION = "How do I connect to the VPN?"


def _write_corpus(root: Path) -> Path:
    (root / "finance").mkdir(parents=True)
    (root / "it").mkdir()
    (root / SECRET_SOURCE).write_text(
        "# Orion forecast\n\n## Revenue\n" + "\n".join(SECRET_LINES) + "\n", encoding="utf-8"
    )  # no front matter: internal by default, as an admin might not notice
    (root / "it" / "vpn.txt").write_text(
        "Connecting to the VPN\n\nInstall the QuillonConnect client from the software centre.\n"
        "Sign in with your work account and approve the MFA prompt to connect to the VPN.\n",
        encoding="utf-8",
    )
    (root / "welcome.md").write_text(
        "# Welcome\n\nYour buddy meets you at reception at 9:30 on your first day.\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture
def kb(tmp_path: Path) -> Settings:
    """The corpus ingested: the forecast is internal in the index."""
    settings = make_settings(tmp_path, _write_corpus(tmp_path / "corpus"))
    assert run_ingest(settings).failed == []
    assert manifest_for(settings).entries()[SECRET_SOURCE].sensitivity == "internal"
    return settings


@pytest.fixture(scope="module")
def cloud_stand_in() -> Iterator[tuple[str, ProxyControl]]:
    """The parrot behind the recording proxy, in place of llama.cpp's server."""
    with parrot_cloud() as stand_in:
        yield stand_in


@pytest.fixture
def env(kb: Settings, cloud_stand_in: tuple[str, ProxyControl]) -> dict[str, str]:
    """What points `kbchat` (a new process) and the app at the index and the cloud stand-in."""
    return {
        "KBCHAT_CORPUS_DIR": str(kb.paths.corpus_dir),
        "KBCHAT_INDEX_DIR": str(kb.paths.index_dir),
        "KBCHAT_MODELS_DIR": str(kb.local.models_dir),
        "KBCHAT_LOCAL_ENGINE": "scripted",
        "KBCHAT_LOCAL_PRELOAD": "false",
        "KBCHAT_TEMPERATURE": "0",
        **cloud_env(cloud_stand_in[0]),
    }


def _sent(control: ProxyControl) -> str:
    """Every message text that arrived at the cloud (JSON bodies parsed, so no escaping)."""
    texts: list[str] = []
    for request in control.requests:
        body = request.json() or {}
        texts += [str(m.get("content", "")) for m in body.get("messages", [])]
    return "\n".join(texts)


def _assert_never_arrived(control: ProxyControl, *texts: str) -> None:
    sent = _sent(control)
    for text in texts:
        assert text not in sent, f"confidential text reached the cloud: {text!r}"


@contextmanager
def _lock_held_elsewhere(index_dir: Path) -> Iterator[None]:
    """Another process holds the ingestion lock of the index until the block ends."""
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom ingest.lock import ingest_lock\n"
        "with ingest_lock(Path(sys.argv[1])):\n    print('locked', flush=True)\n"
        "    time.sleep(900)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(index_dir.resolve())],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield
    finally:
        proc.terminate()
        proc.wait(30)


def _ask_cloud(env: dict[str, str], question: str, model: str = "cloud") -> dict[str, Any]:
    done = kbchat(["ask", question, "--model", model, "--json"], env)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_kbchat_docs_label_keeps_the_document_from_the_cloud_at_once(
    env: dict[str, str], control: ProxyControl
) -> None:
    before = _ask_cloud(env, SECRET_QUESTION)  # unlabelled, the forecast does go: a real leak
    assert SECRET_SOURCE in [p["source"] for p in before["passages"]]
    assert SECRET_LINES[0] in _sent(control), "the check below can fail"
    control.requests.clear()
    labelled = kbchat(["docs", "label", SECRET_SOURCE, "confidential", "--no-ingest"], env)
    assert labelled.returncode == 0, labelled.stderr
    listed = json.loads(kbchat(["docs", "list", "--json"], env).stdout)
    [row] = [r for r in listed if r["source"] == SECRET_SOURCE]
    assert (row["sensitivity"], row["indexed_sensitivity"]) == ("confidential", "internal")
    for model in ("cloud", "both"):  # kbchat ask, and the compare path
        result = _ask_cloud(env, SECRET_QUESTION, model)
        assert SECRET_SOURCE in [w["source"] for w in result["withheld"]]
    assert control.requests, "the other passages did go to the cloud"
    _assert_never_arrived(control, *SECRET_LINES)


def test_a_relabel_while_another_process_holds_the_ingest_lock_fails_loudly_and_holds(
    env: dict[str, str], control: ProxyControl, kb: Settings
) -> None:
    with _lock_held_elsewhere(kb.paths.index_dir):
        labelled = kbchat(["docs", "label", SECRET_SOURCE, "confidential"], env)
        assert labelled.returncode != 0, "the re-ingest could not run: an error, not 'done'"
        assert "Another ingestion is running" in labelled.stderr
        assert "in force" in labelled.stderr
        assert manifest_for(kb).entries()[SECRET_SOURCE].sensitivity == "internal", "stale"
        done = kbchat(["ask", SECRET_QUESTION, "--model", "cloud", "--json"], env)
        assert done.returncode == 0 or "confidential" in done.stderr, done.stderr
    _assert_never_arrived(control, *SECRET_LINES)


# -- the pages -------------------------------------------------------------------------------


def _point_app_at(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _started(script: str) -> AppTest:
    at = AppTest.from_file(script, default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, at.exception
    return at


def _unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _messages(at: AppTest, kind: str) -> list[str]:
    return [_unescaped(str(getattr(m, "value", ""))) for m in at.get(kind)]


def _signed_in_admin(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("KBCHAT_ADMIN_PASSWORD_HASH", hash_password(PASSWORD, n=2**10))
    at = _started(ADMIN)
    at.text_input(key="admin-password").set_value(PASSWORD)
    [sign_in] = [b for b in at.button if b.label == "Sign in"]
    sign_in.click().run()
    assert not at.exception, at.exception
    return at


def _chat(at: AppTest, question: str, choice: str) -> AppTest:
    at.radio(key="chat-choice").set_value(choice)
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def test_admin_page_relabel_under_a_held_lock_shows_the_failure_and_chat_keeps_it_private(
    env: dict[str, str],
    control: ProxyControl,
    kb: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _point_app_at(monkeypatch, env)
    with _lock_held_elsewhere(kb.paths.index_dir):
        admin = _signed_in_admin(monkeypatch)
        admin.selectbox(key="admin-document").select(SECRET_SOURCE).run()
        admin.selectbox(key=f"admin-label-{SECRET_SOURCE}").select("confidential").run()
        admin.button(key="admin-save-label").click().run()
        assert not admin.exception, admin.exception
        errors = _messages(admin, "error")
        assert any("Another ingestion is running" in e for e in errors), errors
        assert not any("has started" in i for i in _messages(admin, "info")), "never 'started'"
        chat = _chat(_started(APP), SECRET_QUESTION, "cloud")
        withheld = [w for w in _messages(chat, "warning") if "Withheld from ChatGPT" in w]
        assert withheld and SECRET_SOURCE in withheld[0]
    _assert_never_arrived(control, *SECRET_LINES)


def test_a_turn_answered_before_the_relabel_is_not_sent_with_a_later_question(
    env: dict[str, str], control: ProxyControl, kb: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _point_app_at(monkeypatch, env)
    chat = _chat(_started(APP), SECRET_QUESTION, "private")
    [turn] = chat.session_state["kbchat_turns"]
    assert turn.answer is not None and SECRET_SOURCE in [p.source for p in turn.answer.passages]
    answer = turn.answer.text.strip()
    assert len(answer) > 10, "the private model wrote an answer from the forecast"
    set_sensitivity(kb, SECRET_SOURCE, "confidential", user="admin")  # as page and CLI do
    _chat(chat, OTHER_QUESTION, "cloud")
    assert control.requests, "the later question did go to the cloud"
    sent = _sent(control)
    assert SECRET_QUESTION not in sent, "the earlier exchange went along as history"
    assert answer[:40] not in sent, "the earlier answer, drawn from the forecast, went along"
    _assert_never_arrived(control, *SECRET_LINES)
    facts = [c for c in _messages(chat, "caption") if f"Source: {SECRET_SOURCE}" in c]
    assert facts and all("Label: confidential" in c for c in facts), "shown as the gate sees it"


def test_an_unusable_admin_settings_file_keeps_the_cloud_off_and_the_admin_page_says_why(
    env: dict[str, str], control: ProxyControl, kb: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment allows the cloud; the admin switched it off; then the file breaks."""
    set_override(kb, "cloud_allowed", False, user="admin")
    set_override(kb, "confidential_paths", ["finance/**"], user="admin")
    path = overrides_path(kb)
    path.write_text(path.read_text("utf-8")[:-3], "utf-8")  # truncated, as by a full disk
    refused = kbchat(["ask", SECRET_QUESTION, "--model", "cloud", "--json"], env)
    assert refused.returncode != 0 and "switched off" in refused.stderr
    kbchat(["ask", SECRET_QUESTION, "--model", "both", "--json"], env)
    assert control.requests == [], "nothing may reach the cloud"
    shown = json.loads(kbchat(["settings", "show", "--json"], env).stdout)
    assert shown["error"] and str(path) in shown["error"]
    assert shown["cloud_allowed"]["value"] is False
    _point_app_at(monkeypatch, env)
    chat = _started(APP)
    captions = [_unescaped(c.value) for c in chat.caption]
    assert any("ChatGPT is not available" in c for c in captions), captions
    admin = _signed_in_admin(monkeypatch)
    errors = _messages(admin, "error")
    assert any(str(path) in e and "cannot be used" in e for e in errors), errors
    assert control.requests == [], "nothing may reach the cloud"
