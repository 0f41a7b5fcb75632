"""Sign-in decisions without a browser: loopback, mode none, headers, claims, OIDC secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kbchat.identity import (
    EVERYONE,
    IdentityError,
    MissingProxyHeaderError,
    user_from_claims,
    user_from_headers,
)
from kbchat.settings import AuthSettings
from kbchat.signin import anonymous_refusal, is_loopback, main, oidc_config_problem

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "kbchat",
    "client_secret": "s",
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
}


def _auth(**values: object) -> AuthSettings:
    return AuthSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("", False),
        (None, False),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("128.0.0.1", False),
        ("kbchat.internal", False),
    ],
)
def test_loopback_addresses(address: str | None, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_mode_none_refuses_every_interface_and_names_the_fix() -> None:
    refusal = anonymous_refusal(_auth(), "")
    assert refusal is not None
    assert "KBCHAT_ALLOW_ANONYMOUS" in refusal and "KBCHAT_AUTH_MODE" in refusal
    assert "127.0.0.1" in refusal


def test_mode_none_serves_loopback_and_allowed_anonymous() -> None:
    assert anonymous_refusal(_auth(), "127.0.0.1") is None
    assert anonymous_refusal(_auth(allow_anonymous=True), "0.0.0.0") is None


@pytest.mark.parametrize("mode", ["oidc", "header"])
def test_signed_in_modes_may_serve_any_address(mode: str) -> None:
    assert anonymous_refusal(_auth(auth_mode=mode), "0.0.0.0") is None


def test_launcher_check_exits_2_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KBCHAT_AUTH_MODE", raising=False)
    monkeypatch.delenv("KBCHAT_ALLOW_ANONYMOUS", raising=False)
    monkeypatch.chdir(ROOT / "tests")  # no .env there
    assert main(["--address", "0.0.0.0"]) == 2
    assert "KBCHAT_ALLOW_ANONYMOUS" in capsys.readouterr().err
    assert main(["--address", "127.0.0.1"]) == 0
    monkeypatch.setenv("KBCHAT_AUTH_MODE", "header")
    assert main(["--address", "0.0.0.0"]) == 0


def test_headers_name_the_user_case_insensitively() -> None:
    user = user_from_headers(
        {"x-forwarded-user": "alice@example.com", "X-FORWARDED-GROUPS": "HR, finance"},
        user_header="X-Forwarded-User",
        groups_header="X-Forwarded-Groups",
        admin_groups=["finance"],
    )
    assert user.id == "alice@example.com"
    assert user.groups == {"hr", "finance", EVERYONE}
    assert user.admin and not user.full_access


def test_headers_without_groups_give_everyone_only() -> None:
    user = user_from_headers(
        {"X-User": "bob"}, user_header="X-User", groups_header="X-Groups", admin_groups=["it"]
    )
    assert user.groups == {EVERYONE} and not user.admin


@pytest.mark.parametrize("headers", [{}, {"X-Forwarded-User": "  "}])
def test_a_missing_user_header_says_to_use_the_proxy(headers: dict[str, str]) -> None:
    with pytest.raises(MissingProxyHeaderError, match="sign-in proxy"):
        user_from_headers(
            headers, user_header="X-Forwarded-User", groups_header="X-Forwarded-Groups"
        )


def test_a_header_group_with_a_quote_is_refused() -> None:
    with pytest.raises(IdentityError):
        user_from_headers({"U": "eve", "G": 'hr"'}, user_header="U", groups_header="G")


def test_claims_map_to_a_user_and_admin_groups() -> None:
    claims = {"sub": "123", "email": "carol@example.com", "name": "Carol", "roles": "IT,hr"}
    user = user_from_claims(claims, user_claim="email", groups_claim="roles", admin_groups=["it"])
    assert (user.id, user.name, user.admin) == ("carol@example.com", "Carol", True)
    assert user.groups == {"it", "hr", EVERYONE}


def test_oidc_config_complete() -> None:
    assert oidc_config_problem(AUTH, None) is None
    assert (
        oidc_config_problem(
            {k: AUTH[k] for k in ("redirect_uri", "cookie_secret")} | {"okta": AUTH}, "okta"
        )
        is None
    )


@pytest.mark.parametrize(
    ("section", "provider", "named"),
    [
        (None, None, "[auth]"),
        ({k: v for k, v in AUTH.items() if k != "cookie_secret"}, None, "cookie_secret"),
        ({**AUTH, "redirect_uri": "http://127.0.0.1:8501/"}, None, "/oauth2callback"),
        ({k: v for k, v in AUTH.items() if k != "client_id"}, None, "client_id"),
        (AUTH, "okta", "[auth.okta]"),
        ({**AUTH, "server_metadata_url": "idp/.well-known"}, None, "absolute URL"),
    ],
)
def test_oidc_config_problems_name_the_setting_and_file(
    section: dict[str, object] | None, provider: str | None, named: str
) -> None:
    problem = oidc_config_problem(section, provider, ["/srv/kbchat/.streamlit/secrets.toml"])
    assert problem is not None
    assert named in problem and "/srv/kbchat/.streamlit/secrets.toml" in problem


def test_make_run_refuses_before_streamlit_starts(tmp_path: Path) -> None:
    """The check `make run`/`make ui` runs first, in a child process as make runs it."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "kbchat.signin", "--address", "0.0.0.0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "refuses to serve" in done.stderr
    assert "kbchat.signin --address" in (ROOT / "Makefile").read_text()
