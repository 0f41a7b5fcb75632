"""Sign-in in a real browser: ``st.login`` against a real OIDC provider on 127.0.0.1.

alice (group ``hr``) and bob (no hr) sign in through the provider's login form, each in their
own browser context, and the sidebar names them; a member of the admin group opens the Admin
page without a password, bob gets the password form; signing out ends the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.signin import OidcProvider, oidc_provider, sign_in, sign_out, write_secrets
from tests.fixtures.streamlit_server import APP, app_env, ingest, start_streamlit

pytestmark = pytest.mark.e2e


@dataclass
class SignInApp:
    url: str
    provider: OidcProvider


@pytest.fixture(scope="module")
def oidc_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInApp]:
    tmp = tmp_path_factory.mktemp("signin-e2e")
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "welcome.md").write_text("# Welcome\n\nYour buddy meets you at reception.\n")
    with oidc_provider() as provider:
        provider.set_user("alice", email="alice@example.com", name="Alice", groups=["hr"])
        provider.set_user("bob", email="bob@example.com", name="Bob", groups=["sales"])
        provider.set_user("carol", email="carol@example.com", name="Carol", groups=["it"])
        env = app_env(
            tmp,
            corpus=corpus,
            settings={"AUTH_MODE": "oidc", "ADMIN_GROUPS": "it"},
            extra={"STREAMLIT_SECRETS_FILES": str(write_secrets(tmp, provider))},
        )
        ingest(env)
        with start_streamlit(APP, env) as url:
            yield SignInApp(url, provider)


def test_alice_and_bob_sign_in_apart_and_are_named(oidc_app: SignInApp, browser: Browser) -> None:
    alice = browser.new_context().new_page()
    bob = browser.new_context().new_page()
    try:
        sign_in(alice, oidc_app.url, "alice")
        sidebar = alice.get_by_test_id("stSidebar")
        expect(sidebar).to_contain_text("Alice")
        expect(sidebar).to_contain_text("hr")
        sign_in(bob, oidc_app.url, "bob")
        expect(bob.get_by_test_id("stSidebar")).to_contain_text("Bob")
        expect(bob.get_by_test_id("stSidebar")).not_to_contain_text("hr")
        bob.goto(f"{oidc_app.url}/admin")
        expect(bob.get_by_text("No admin password is set")).to_be_visible(timeout=60_000)
        expect(bob.get_by_role("tab", name="Documents")).to_have_count(0)
        sign_out(alice)
    finally:
        alice.context.close()
        bob.context.close()


def test_an_admin_group_member_opens_the_admin_page_without_a_password(
    oidc_app: SignInApp, browser: Browser
) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, oidc_app.url, "carol")
        page.goto(f"{oidc_app.url}/admin")
        expect(page.get_by_role("tab", name="Documents")).to_be_visible(timeout=60_000)
        expect(page.get_by_label("Admin password")).to_have_count(0)
    finally:
        context.close()
