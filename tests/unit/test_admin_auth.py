"""Admin sign-in: hashes, constant-time checks, lockout, session expiry, the CLI command."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from kbchat.admin import auth
from kbchat.admin.auth import (
    AdminSession,
    InvalidHashError,
    LockedOutError,
    LoginThrottle,
    NoPasswordConfiguredError,
    WrongPasswordError,
    hash_password,
    sign_in,
    verify_password,
)
from kbchat.cli.admin import admin
from kbchat.settings import AdminSettings, Settings
from tests.conftest import make_settings

pytestmark = pytest.mark.unit

PASSWORD = "correct horse battery"
FAST = {"n": 2**10}  # cheap hashes for tests; the default costs about 0.1 s


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _settings(tmp: Path, stored: str | None, minutes: int = 30) -> Settings:
    settings = make_settings(tmp)
    settings.admin = AdminSettings(
        admin_password_hash=SecretStr(stored) if stored else None,
        admin_session_minutes=minutes,
    )
    return settings


def test_hash_is_self_describing_salted_and_verifies() -> None:
    first, second = hash_password(PASSWORD, **FAST), hash_password(PASSWORD, **FAST)
    scheme, n, r, p, _salt, _digest = first.split(":")
    assert (scheme, n, r, p) == ("scrypt", "1024", "8", "1")
    assert first != second, "every hash has its own salt"
    assert "$" not in first, "no shell or env-file expansion can mangle it"
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + " ", first)
    assert not verify_password("", first)
    assert verify_password(PASSWORD, first.replace(":", "$")), "the $-separated form is read too"


def test_default_cost_is_the_documented_one() -> None:
    assert hash_password(PASSWORD).startswith(f"scrypt:{2**15}:8:1:")


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert verify_password(PASSWORD, hash_password(PASSWORD, **FAST))
    assert len(calls) == 1


@pytest.mark.parametrize(
    "stored",
    [
        "plaintext-password",
        "bcrypt:10:8:1:c2FsdHNhbHQ:ZGlnZXN0ZGlnZXN0ZGlnZXN0",
        "scrypt:1000:8:1:c2FsdHNhbHQ:ZGlnZXN0ZGlnZXN0ZGlnZXN0",  # n not a power of two
        "scrypt:1048576:64:1:c2FsdHNhbHQ:ZGlnZXN0ZGlnZXN0ZGlnZXN0",  # 8 GB of work
        "scrypt:1024:8:1:c2Fs:ZGlnZXN0ZGlnZXN0ZGlnZXN0",  # salt too short
        "scrypt:1024:8:1",
    ],
)
def test_malformed_hashes_are_refused_without_echoing_them(stored: str) -> None:
    with pytest.raises(InvalidHashError) as caught:
        verify_password(PASSWORD, stored)
    assert stored not in str(caught.value)
    assert "kbchat admin hash-password" in str(caught.value)


def test_lockout_after_five_failures_grows_and_a_success_resets() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(auth.MAX_FAILURES - 1):
        throttle.failed()
    assert throttle.seconds_locked() == 0
    throttle.failed()
    assert throttle.seconds_locked() == pytest.approx(auth.LOCKOUT_S)
    clock.now += auth.LOCKOUT_S
    assert throttle.seconds_locked() == 0
    for _ in range(auth.MAX_FAILURES):
        throttle.failed()
    assert throttle.seconds_locked() == pytest.approx(2 * auth.LOCKOUT_S), "longer each time"
    for _ in range(10):
        clock.now += auth.MAX_LOCKOUT_S
        for _ in range(auth.MAX_FAILURES):
            throttle.failed()
    assert throttle.seconds_locked() == pytest.approx(auth.MAX_LOCKOUT_S), "capped"
    throttle.succeeded()
    assert throttle.seconds_locked() == 0


def test_sign_in_right_wrong_locked_and_unconfigured(tmp_path: Path) -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    settings = _settings(tmp_path, hash_password(PASSWORD, **FAST))
    session = sign_in(settings, PASSWORD, throttle=throttle, now=5000.0)
    assert session.expires_at == 5000.0 + 30 * 60
    for _ in range(auth.MAX_FAILURES - 1):
        with pytest.raises(WrongPasswordError, match="Wrong password"):
            sign_in(settings, "guess", throttle=throttle)
    with pytest.raises(LockedOutError, match="locked for 5 more minutes"):
        sign_in(settings, "guess", throttle=throttle)
    with pytest.raises(LockedOutError):
        sign_in(settings, PASSWORD, throttle=throttle)  # even the right one, while locked
    clock.now += auth.LOCKOUT_S + 1
    sign_in(settings, PASSWORD, throttle=throttle)
    with pytest.raises(NoPasswordConfiguredError, match="kbchat admin hash-password"):
        sign_in(_settings(tmp_path, None), PASSWORD, throttle=throttle)
    with pytest.raises(InvalidHashError):
        sign_in(_settings(tmp_path, "not-a-hash"), PASSWORD, throttle=throttle)


def test_session_expires_and_ends_when_the_hash_changes(tmp_path: Path) -> None:
    stored = hash_password(PASSWORD, **FAST)
    settings = _settings(tmp_path, stored, minutes=10)
    session = sign_in(settings, PASSWORD, throttle=LoginThrottle(), now=0.0)
    assert session.valid(settings, now=599.0)
    assert not session.valid(settings, now=600.0)
    other = _settings(tmp_path, hash_password(PASSWORD, **FAST), minutes=10)
    assert not session.valid(other, now=1.0)
    assert not session.valid(_settings(tmp_path, None), now=1.0)
    assert isinstance(session, AdminSession)


def test_hash_comes_from_the_environment_only_and_never_prints(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    stored = hash_password(PASSWORD, **FAST)
    (tmp_path / ".env").write_text(f"KBCHAT_ADMIN_PASSWORD_HASH={stored}\n")
    assert Settings().admin.admin_password_hash is None, ".env is not read for it"
    monkeypatch.setenv("KBCHAT_ADMIN_PASSWORD_HASH", stored)
    monkeypatch.setenv("KBCHAT_ADMIN_SESSION_MINUTES", "5")
    settings = Settings()
    secret = settings.admin.admin_password_hash
    assert secret is not None and secret.get_secret_value() == stored
    assert settings.admin.admin_session_minutes == 5
    assert stored not in repr(settings) and stored not in str(settings.admin)


def test_cli_hash_password_prompts_twice_hidden_and_prints_the_env_line() -> None:
    runner = CliRunner()
    result = runner.invoke(admin, ["hash-password"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    [line] = [x for x in result.stdout.splitlines() if x.startswith("KBCHAT_ADMIN_PASSWORD_HASH=")]
    assert verify_password(PASSWORD, line.split("=", 1)[1])
    assert PASSWORD not in result.output, "the password is not echoed"
    assert "Repeat it" in result.output


def test_cli_hash_password_refuses_mismatch_and_short_passwords() -> None:
    runner = CliRunner()
    mismatch = runner.invoke(admin, ["hash-password"], input=f"{PASSWORD}\nother\n")
    assert "KBCHAT_ADMIN_PASSWORD_HASH=" not in mismatch.output
    short = runner.invoke(admin, ["hash-password"], input="short\nshort\n")
    assert short.exit_code == 1 and "too short" in short.output
