"""Admin sign-in under attack: parallel guesses, one client locking out another, the audit."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from pydantic import SecretStr

from kbchat.admin import auth
from kbchat.admin.auth import (
    LockedOutError,
    LoginThrottle,
    WrongPasswordError,
    hash_password,
    sign_in,
)
from kbchat.audit import audit_for
from kbchat.settings import AdminSettings, Settings
from tests.conftest import make_settings

pytestmark = [pytest.mark.security, pytest.mark.unit]

PASSWORD = "correct horse battery"
GUESSES = 12


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD, n=2**13)  # slow enough (~20 ms) for guesses to overlap


def _settings(tmp: Path, stored: str) -> Settings:
    settings = make_settings(tmp)
    settings.admin = AdminSettings(admin_password_hash=SecretStr(stored))
    return settings


def _sign_in_outcome(
    settings: Settings, password: str, client: str, throttle: LoginThrottle
) -> str:
    try:
        sign_in(settings, password, client=client, throttle=throttle)
    except LockedOutError:
        return "locked"
    except WrongPasswordError:
        return "wrong"
    return "ok"


def test_parallel_wrong_guesses_are_counted_before_the_password_is_checked(
    tmp_path: Path, stored: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, stored)
    throttle = LoginThrottle()
    checked: list[str] = []
    real_verify = auth.verify_password

    def counting_verify(password: str, stored_hash: str) -> bool:
        checked.append(password)
        return real_verify(password, stored_hash)

    monkeypatch.setattr(auth, "verify_password", counting_verify)
    start = threading.Barrier(GUESSES)
    outcomes: list[str] = []

    def guess(number: int) -> None:
        start.wait()
        outcomes.append(_sign_in_outcome(settings, f"guess {number}", "ip:203.0.113.9", throttle))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == GUESSES
    assert len(checked) <= auth.MAX_FAILURES, f"{len(checked)} guesses reached the password check"
    assert "ok" not in outcomes
    assert Counter(outcomes)["locked"] >= GUESSES - auth.MAX_FAILURES
    # Every attempt is in the audit log, with its outcome and the client.
    rows = audit_for(settings).entries(100, event="admin_sign_in")
    assert len(rows) == GUESSES
    assert Counter(r.outcome for r in rows) == {
        "failed": len(checked),
        "locked": GUESSES - len(checked),
    }
    assert {r.session for r in rows} == {"ip:203.0.113.9"}
    assert all(PASSWORD not in (r.detail or "") and "guess" not in (r.detail or "") for r in rows)


def test_one_locked_client_does_not_lock_another_until_the_global_ceiling(
    tmp_path: Path, stored: str
) -> None:
    settings = _settings(tmp_path, stored)
    throttle = LoginThrottle()
    for _ in range(auth.MAX_FAILURES + 3):
        _sign_in_outcome(settings, "guess", "ip:198.51.100.1", throttle)
    assert throttle.seconds_locked("ip:198.51.100.1") > 0
    # The locked-out client is refused even with the right password; the admin is not.
    assert _sign_in_outcome(settings, PASSWORD, "ip:198.51.100.1", throttle) == "locked"
    assert _sign_in_outcome(settings, PASSWORD, "ip:192.0.2.7", throttle) == "ok"
    # Guessing from many addresses is capped by the global ceiling: then everyone waits.
    failures = auth.MAX_FAILURES  # those of the first client
    client = 0
    while failures < auth.GLOBAL_MAX_FAILURES:
        client += 1
        for _ in range(auth.MAX_FAILURES - 1):  # each stays just under its own limit
            if failures < auth.GLOBAL_MAX_FAILURES:
                assert _sign_in_outcome(settings, "guess", f"ip:10.0.0.{client}", throttle) in {
                    "wrong",
                    "locked",
                }
                failures += 1
    assert throttle.seconds_locked("ip:192.0.2.7") > 0
    assert _sign_in_outcome(settings, PASSWORD, "ip:192.0.2.7", throttle) == "locked"
    outcomes = Counter(r.outcome for r in audit_for(settings).entries(1000, event="admin_sign_in"))
    assert outcomes["ok"] == 1 and outcomes["locked"] >= 4
