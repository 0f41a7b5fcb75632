"""The sign-in in front of every page, headless (`AppTest` of ``app/main.py``), in each mode.

What the page renders is checked: with no user, only the sign-in or refusal page (no chat
input, no sidebar, no navigation); with a user, the sidebar names them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from kbchat.audit import audit_for
from kbchat.settings import Settings
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "app" / "main.py")
TIMEOUT_S = 120
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "a cookie secret that is long enough for the test",
    "client_id": "kbchat",
    "client_secret": "kbchat-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """An empty index in ``tmp_path``; the app's environment points at it."""
    settings = make_settings(tmp_path)
    settings.paths.corpus_dir.mkdir(parents=True)
    monkeypatch.setenv("KBCHAT_INDEX_DIR", str(settings.paths.index_dir))
    monkeypatch.setenv("KBCHAT_CORPUS_DIR", str(settings.paths.corpus_dir))
    monkeypatch.setenv("KBCHAT_MODELS_DIR", str(settings.local.models_dir))
    monkeypatch.setenv("KBCHAT_ADMIN_GROUPS", "it-admins")
    return settings


def _texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.error, *at.title)]
    return "\n".join(str(p) for p in parts)


def _sidebar(at: AppTest) -> str:
    """The sidebar's text, Markdown escapes removed."""
    parts = (*at.sidebar.markdown, *at.sidebar.caption)
    return "\n".join(str(m.value) for m in parts).replace("\\", "")


def _only_the_refusal(at: AppTest) -> str:
    assert not at.exception
    assert len(at.error) == 1, _texts(at)
    assert not at.chat_input and not at.sidebar.markdown and not at.sidebar.metric
    assert not at.tabs and not at.text_input
    return str(at.error[0].value)


def _audit(settings: Settings) -> list[tuple[str, str | None, str]]:
    return [(e.outcome, e.user, e.detail or "") for e in audit_for(settings).entries()]


def test_mode_none_on_loopback_names_the_local_user(env: Settings) -> None:
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT_S).run()
    assert not at.exception
    sidebar = _sidebar(at)
    assert "Local user (no sign-in)" in sidebar
    assert "sign-in is off" in sidebar
    assert not [b for b in at.sidebar.button if b.label == "Sign out"]


@pytest.mark.parametrize("address", ["", "0.0.0.0", "10.1.2.3", "kbchat.example.com"])
def test_mode_none_refuses_a_public_address_and_renders_nothing_else(
    env: Settings, address: str
) -> None:
    config.set_option("server.address", address)
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT_S).run()
    message = _only_the_refusal(at)
    assert "KBCHAT_AUTH_MODE" in message and "KBCHAT_ALLOW_ANONYMOUS" in message
    assert [(o, u) for o, u, _ in _audit(env)] == [("refused", None)]


def test_mode_none_with_allow_anonymous_serves_a_public_address(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBCHAT_ALLOW_ANONYMOUS", "true")
    config.set_option("server.address", "0.0.0.0")
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT_S).run()
    assert not at.exception
    assert "Local user (no sign-in)" in _sidebar(at)


def test_header_mode_without_the_proxy_header_is_refused(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBCHAT_AUTH_MODE", "header")
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT_S).run()
    message = _only_the_refusal(at)
    assert "X-Forwarded-User" in message and "proxy" in message


def test_oidc_without_secrets_names_the_file_and_the_section(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBCHAT_AUTH_MODE", "oidc")
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT_S)
    at.run()
    message = _only_the_refusal(at)
    assert "[auth]" in message and "secrets.toml" in message


def test_oidc_with_an_incomplete_section_names_the_missing_key(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBCHAT_AUTH_MODE", "oidc")
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT_S)
    at.secrets["auth"] = {k: v for k, v in AUTH.items() if k != "client_secret"}
    at.run()
    assert "client_secret" in _only_the_refusal(at)


def test_oidc_signed_out_shows_only_the_sign_in_button(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBCHAT_AUTH_MODE", "oidc")
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT_S)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception and not at.error
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.chat_input and not at.sidebar.markdown


def test_oidc_signed_in_user_is_named_with_groups_and_can_sign_out(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBCHAT_AUTH_MODE", "oidc")
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT_S)
    at.secrets["auth"] = AUTH
    at.user = {
        "is_logged_in": True,
        "email": "alice@example.com",
        "name": "Alice Example",
        "groups": ["HR"],
    }
    at.run()
    assert not at.exception
    sidebar = _sidebar(at)
    assert "Alice Example" in sidebar and "hr" in sidebar and "(admin)" not in sidebar
    assert [b.label for b in at.sidebar.button] == ["Sign out"]
    assert [(o, u) for o, u, _ in _audit(env)] == [("ok", "alice@example.com")]
    at.run()  # a rerun is not a new sign-in
    assert len(_audit(env)) == 1
    at.sidebar.button[0].click().run()
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.sidebar.markdown


def test_oidc_admin_group_opens_the_admin_page_without_a_password(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBCHAT_AUTH_MODE", "oidc")
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT_S)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "carol@example.com", "groups": ["IT-Admins"]}
    at.switch_page("views/admin.py").run()
    assert not at.exception
    assert [t.label for t in at.tabs][:2] == ["Documents", "Re-ingest"]
    assert not [t for t in at.text_input if t.label == "Admin password"]


def test_oidc_non_admin_gets_the_password_form_on_the_admin_page(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBCHAT_AUTH_MODE", "oidc")
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT_S)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "bob@example.com", "groups": ["sales"]}
    at.switch_page("views/admin.py").run()
    assert not at.exception
    assert not at.tabs
    # the password fallback (here locked: no password hash is configured)
    assert any("No admin password is set" in str(w.value) for w in at.warning)
