"""A company model server's address and its error text, as every chat user sees them.

The private model runs on a server whose URL carries credentials (user name and password, a
token in the query). That server fails with an error body written to attack the page:
Markdown that would link, load an image or format text. The checks read what the page
renders (`AppTest`, the real app), not the function meant to clean it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from app.render import ZWSP
from kbchat.knowledge import run_ingest
from kbchat.settings import Settings
from tests.conftest import make_settings
from tests.fixtures.ports import free_port
from tests.fixtures.recording_proxy import ProxyControl, recording_proxy

pytestmark = [pytest.mark.security, pytest.mark.integration]

APP = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
PASSWORD = "hunter2-pw-5511"
TOKEN = "tok-query-8830"
HOSTILE = (
    "**Upgrade now** at [the portal](http://evil.example/login) "
    "![pixel](http://evil.example/p.png) <img src=http://evil.example/q.png>"
)

# ``[text](`` whose brackets are not escaped: Markdown would make it a link (or an image).
UNESCAPED_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")


@pytest.fixture(scope="module")
def failing_server() -> Iterator[tuple[str, ProxyControl]]:
    """An OpenAI-compatible address that answers every request with HTTP 400 and ``HOSTILE``."""
    nowhere = f"http://127.0.0.1:{free_port()}"  # never contacted: the proxy fails first
    with recording_proxy(nowhere) as (proxy, control):
        control.fail_status = 400
        control.fail_body = {"message": HOSTILE}
        yield proxy, control


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("private-server")
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "leave.md").write_text(
        "# Leave policy\n\nEveryone gets 27 days of annual leave plus bank holidays.\n",
        encoding="utf-8",
    )
    settings = make_settings(tmp, corpus)
    run_ingest(settings)
    return settings


def _plain(markdown: str) -> str:
    """Markdown as a reader sees its text: escapes and zero-width spaces removed."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(ZWSP, "")


def _texts(at: AppTest) -> list[str]:
    """Every text element the page rendered, main area and sidebar, as a reader sees it."""
    kinds = ("markdown", "caption", "error", "warning", "info", "success", "text")
    found: list[str] = []
    for root in (at.main, at.sidebar):
        for kind in kinds:
            found += [_plain(str(element.value)) for element in root.get(kind)]
    return found


def _started(monkeypatch: pytest.MonkeyPatch, settings: Settings, server: str) -> AppTest:
    host = server.removeprefix("http://")
    monkeypatch.setenv("KBCHAT_INDEX_DIR", str(settings.paths.index_dir))
    monkeypatch.setenv("KBCHAT_CORPUS_DIR", str(settings.paths.corpus_dir))
    monkeypatch.setenv("KBCHAT_PRIVATE_BASE_URL", f"http://kb:{PASSWORD}@{host}/v1?key={TOKEN}")
    monkeypatch.setenv("KBCHAT_PRIVATE_MODEL", "llama-2-7b-chat")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_server_address_is_shown_without_its_credentials(
    monkeypatch: pytest.MonkeyPatch, indexed: Settings, failing_server: tuple[str, Any]
) -> None:
    server, _control = failing_server
    at = _started(monkeypatch, indexed, server)
    shown = "\n".join(_texts(at))
    assert "Private model server" in shown, "the sidebar names the server"
    assert "127.0.0.1" in shown
    assert PASSWORD not in shown and TOKEN not in shown and "kb:" not in shown


def test_an_error_from_the_server_is_shown_as_text_not_markdown(
    monkeypatch: pytest.MonkeyPatch, indexed: Settings, failing_server: tuple[str, ProxyControl]
) -> None:
    server, control = failing_server
    control.requests.clear()
    at = _started(monkeypatch, indexed, server)
    at.chat_input[0].set_value("How many days of annual leave do I get?").run()
    assert not at.exception, at.exception
    assert control.requests, "the question went to the private server"
    errors = [str(e.value) for e in at.error]
    assert any("Upgrade now" in _plain(e) for e in errors), errors
    for error in errors:
        assert not UNESCAPED_LINK.search(error), f"a link or image would render: {error!r}"
        assert not re.search(r"(?<!\\)<img", error), f"HTML would render: {error!r}"
        assert not re.search(r"(?<!\\)\*\*", error), f"Markdown would format: {error!r}"
    shown = "\n".join(_texts(at))
    assert PASSWORD not in shown and TOKEN not in shown
