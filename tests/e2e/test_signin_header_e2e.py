"""Header mode in a real browser, through an authenticating proxy on 127.0.0.1: the proxy's
user is named, and a client that sends its own ``X-Forwarded-User: admin`` is still the
proxy's user (the proxy strips it, as the README requires)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.signing_proxy import signing_proxy
from tests.fixtures.streamlit_server import APP, app_env, ingest, start_streamlit

pytestmark = [pytest.mark.e2e, pytest.mark.security]


@pytest.fixture(scope="module")
def header_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp: Path = tmp_path_factory.mktemp("header-e2e")
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "welcome.md").write_text("# Welcome\n\nYour buddy meets you at reception.\n")
    env = app_env(tmp, corpus=corpus, settings={"AUTH_MODE": "header", "ADMIN_GROUPS": "it"})
    ingest(env)
    with (
        start_streamlit(APP, env) as url,
        signing_proxy(
            url, {"X-Forwarded-User": "dave@example.com", "X-Forwarded-Groups": "sales"}
        ) as proxied,
    ):
        yield url, proxied


def test_a_spoofed_user_header_is_replaced_by_the_proxy(
    header_app: tuple[str, str], browser: Browser
) -> None:
    _, proxied = header_app
    context = browser.new_context(
        extra_http_headers={"X-Forwarded-User": "admin", "X-Forwarded-Groups": "it"}
    )
    page = context.new_page()
    try:
        page.goto(proxied)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar).to_contain_text("dave@example.com", timeout=180_000)
        expect(sidebar).not_to_contain_text("admin")
        page.goto(f"{proxied}/admin")
        expect(page.get_by_role("tab", name="Documents")).to_have_count(0)
    finally:
        context.close()


def test_reaching_kbchat_directly_is_refused(header_app: tuple[str, str], browser: Browser) -> None:
    direct, _ = header_app
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(direct)
        expect(page.get_by_text("sign-in proxy")).to_be_visible(timeout=180_000)
        expect(page.get_by_test_id("stChatInput")).to_have_count(0)
    finally:
        context.close()
