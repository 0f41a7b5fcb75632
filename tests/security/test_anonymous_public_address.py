"""Mode ``none`` on an address others can reach: what a visitor's page receives.

``KBCHAT_AUTH_MODE=none`` makes every visitor the local user, who reads every document. On
an address other than loopback the page must hold the refusal and nothing of the app: no
chat, no knowledge base figures, no navigation to the other pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from kbchat.knowledge import run_ingest
from tests.conftest import make_settings

pytestmark = [pytest.mark.security, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "app" / "main.py")


@pytest.fixture
def public_address() -> Iterator[None]:
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    yield
    config.set_option("server.address", before)


def test_a_visitor_of_a_public_address_gets_only_the_refusal(
    tmp_path: Path,
    small_corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
    public_address: None,
) -> None:
    settings = make_settings(tmp_path, small_corpus)
    run_ingest(settings)
    monkeypatch.setenv("KBCHAT_INDEX_DIR", str(settings.paths.index_dir))
    monkeypatch.setenv("KBCHAT_CORPUS_DIR", str(settings.paths.corpus_dir))
    monkeypatch.setenv("KBCHAT_MODELS_DIR", str(settings.local.models_dir))
    monkeypatch.delenv("KBCHAT_AUTH_MODE", raising=False)
    monkeypatch.delenv("KBCHAT_ALLOW_ANONYMOUS", raising=False)
    at = AppTest.from_file(MAIN, default_timeout=120).run()
    assert not at.exception
    assert not at.chat_input, "the chat was served to an anonymous visitor"
    assert not at.sidebar.metric and not at.sidebar.markdown
    page = "\n".join(str(e.value) for e in (*at.markdown, *at.caption, *at.title, *at.error))
    assert "Salary bands" not in page and "Leave policy" not in page
    assert [str(e.value) for e in at.error] and "KBCHAT_ALLOW_ANONYMOUS" in at.error[0].value
