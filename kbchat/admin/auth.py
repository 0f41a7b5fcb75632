"""The admin sign-in: password hashes, constant-time checks, lockout, session expiry.

The password is never stored: the environment holds a salted scrypt hash
(``KBCHAT_ADMIN_PASSWORD_HASH``) in a self-describing form, ``scrypt:n:r:p:salt:hash``
(base64 salt and hash; colons rather than ``$`` so that shells and env files leave it alone).
There is no default password: with no hash configured the admin page stays locked.

Failed sign-ins are counted per process and per client (`LoginThrottle`): after
`MAX_FAILURES` in a row that client is locked for `LOCKOUT_S`, doubled at each further lockout
up to `MAX_LOCKOUT_S`; a success resets it. `GLOBAL_MAX_FAILURES` failures of all clients
within `GLOBAL_WINDOW_S` lock every sign-in for `LOCKOUT_S`. An attempt is counted before the
password is checked, atomically, so parallel guesses cannot slip past the count. Every attempt
(ok, failed, locked) is written to the audit log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from kbchat.audit import audit_for
from kbchat.errors import ConfigError, KbchatError
from kbchat.settings import Settings

SCHEME = "scrypt"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_MAX_MEMORY = 256 * 1024 * 1024  # a hash asking for more is refused (it would stall sign-ins)
_SALT_BYTES = 16
_HASH_BYTES = 32
MIN_PASSWORD_LENGTH = 10

MAX_FAILURES = 5
LOCKOUT_S = 5 * 60.0
MAX_LOCKOUT_S = 60 * 60.0
GLOBAL_MAX_FAILURES = 20
GLOBAL_WINDOW_S = 15 * 60.0
LOCAL_CLIENT = "local"  # the client of a caller that names none (the CLI, a test)
_MAX_CLIENTS = 10_000  # remembered clients before idle ones are forgotten

HOW_TO_SET = (
    "Run `kbchat admin hash-password`, put the line it prints into the environment of the UI "
    "(e.g. `export KBCHAT_ADMIN_PASSWORD_HASH=...`), and restart the UI."
)


class AuthError(KbchatError):
    """A sign-in did not succeed; the message says why (never the password or the hash)."""


class NoPasswordConfiguredError(AuthError):
    """No admin password hash is configured: the admin page stays locked."""

    def __init__(self) -> None:
        super().__init__(f"No admin password is set, so the admin page is locked. {HOW_TO_SET}")


class InvalidHashError(AuthError, ConfigError):
    """The configured hash is not one this module made."""

    def __init__(self) -> None:
        super().__init__(f"KBCHAT_ADMIN_PASSWORD_HASH is not a valid password hash. {HOW_TO_SET}")


class WrongPasswordError(AuthError):
    """The password does not match."""


class LockedOutError(AuthError):
    """Too many failures: sign-in is refused for a while."""

    def __init__(self, seconds_left: float) -> None:
        minutes = max(1, round(seconds_left / 60))
        super().__init__(
            f"Too many failed sign-ins: the admin sign-in is locked for {minutes} more "
            f"minute{'s' if minutes != 1 else ''}."
        )
        self.seconds_left = seconds_left


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=2 * 128 * r * (n + p) + 16 * 1024 * 1024,
        dklen=_HASH_BYTES,
    )


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A salted scrypt hash of the password: ``scrypt:n:r:p:salt:hash``.

    Raises:
        ValueError: the password is empty.
    """
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p)
    return f"{SCHEME}:{n}:{r}:{p}:{_b64(salt)}:{_b64(digest)}"


@dataclass(frozen=True)
class _Parsed:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def _parse(stored: str) -> _Parsed:
    """Read a stored hash (``:`` or ``$`` separated).

    Raises:
        InvalidHashError: it is not a hash in this format, or asks for absurd work.
    """
    text = stored.strip()
    parts = text.split("$" if "$" in text else ":")
    try:
        scheme, n, r, p, salt, digest = parts
        parsed = _Parsed(int(n), int(r), int(p), _unb64(salt), _unb64(digest))
    except ValueError:
        raise InvalidHashError() from None
    valid = (
        scheme == SCHEME
        and parsed.n >= 2
        and parsed.n & (parsed.n - 1) == 0
        and 1 <= parsed.r <= 64
        and 1 <= parsed.p <= 16
        and 128 * parsed.r * parsed.n <= _MAX_MEMORY
        and len(parsed.salt) >= 8
        and len(parsed.digest) >= 16
    )
    if not valid:
        raise InvalidHashError()
    return parsed


def check_hash(stored: str) -> None:
    """Check that a configured hash is well formed.

    Raises:
        InvalidHashError: it is not.
    """
    _parse(stored)


def verify_password(password: str, stored: str) -> bool:
    """Whether the password matches the stored hash (compared in constant time).

    Raises:
        InvalidHashError: the stored hash is malformed.
    """
    parsed = _parse(stored)
    computed = _scrypt(password, parsed.salt, parsed.n, parsed.r, parsed.p)
    return hmac.compare_digest(computed[: len(parsed.digest)], parsed.digest)


@dataclass
class _ClientRecord:
    failures: int = 0  # in a row, counted when an attempt is admitted
    lockouts: int = 0
    locked_until: float = 0.0
    last_seen: float = 0.0


class LoginThrottle:
    """Sign-in attempts of this process per client, and the lockouts they cause.

    An attempt is admitted and counted as a failure in one step, under one lock, before the
    password is checked (`admit`); a success takes the count back (`succeeded`). So parallel
    guesses cannot all be checked: of any number sent at once by one client, at most
    ``max_failures`` reach the password check before that client is locked.

    Each client (``client``: an address, or a browser session) has its own count: after
    ``max_failures`` failures in a row it is locked for `LOCKOUT_S`, doubled at each further
    lockout up to `MAX_LOCKOUT_S`, and other clients can still sign in. Failures of all
    clients together are capped too: ``global_max_failures`` within ``global_window_s`` lock
    every sign-in for `LOCKOUT_S`, so guessing from many addresses is bounded as well.

    Args:
        clock: seconds on a monotonic clock (tests pass their own).
        max_failures: failures in a row that lock one client.
        global_max_failures: failures of all clients within the window that lock everyone.
        global_window_s: the window of the global count, in seconds.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_failures: int = MAX_FAILURES,
        global_max_failures: int = GLOBAL_MAX_FAILURES,
        global_window_s: float = GLOBAL_WINDOW_S,
    ) -> None:
        self._clock = clock
        self.max_failures = max_failures
        self.global_max_failures = global_max_failures
        self.global_window_s = global_window_s
        self._lock = threading.Lock()
        self._clients: dict[str, _ClientRecord] = {}
        self._recent: deque[tuple[float, str]] = deque()  # (time, client) of each failure
        self._global_until = 0.0

    def seconds_locked(self, client: str = LOCAL_CLIENT) -> float:
        """Seconds until ``client`` may try again (0 when it may)."""
        with self._lock:
            return self._seconds_locked(client, self._clock())

    def admit(self, client: str = LOCAL_CLIENT) -> None:
        """Let one attempt of ``client`` through to the password check, counted as a failure.

        Raises:
            LockedOutError: ``client`` is locked, or every sign-in is (the global ceiling);
                nothing is counted.
        """
        with self._lock:
            now = self._clock()
            locked = self._seconds_locked(client, now)
            if locked > 0:
                raise LockedOutError(locked)
            self._count(client, now)

    def failed(self, client: str = LOCAL_CLIENT) -> None:
        """Count a failure of ``client`` (what `admit` does, without the lockout check)."""
        with self._lock:
            self._count(client, self._clock())

    def succeeded(self, client: str | None = None) -> None:
        """The last attempt of ``client`` succeeded: forget its failures and lockouts and take
        its counted failure back from the global count. ``None`` forgets every client."""
        with self._lock:
            if client is None:
                self._clients.clear()
                self._recent.clear()
                self._global_until = 0.0
                return
            self._clients.pop(client, None)
            for position in range(len(self._recent) - 1, -1, -1):
                if self._recent[position][1] == client:
                    del self._recent[position]
                    break

    # -- under the lock ----------------------------------------------------------------------

    def _seconds_locked(self, client: str, now: float) -> float:
        record = self._clients.get(client)
        mine = record.locked_until if record is not None else 0.0
        return max(0.0, mine - now, self._global_until - now)

    def _count(self, client: str, now: float) -> None:
        record = self._clients.setdefault(client, _ClientRecord())
        record.failures += 1
        record.last_seen = now
        if record.failures >= self.max_failures:
            lockout = min(MAX_LOCKOUT_S, LOCKOUT_S * 2**record.lockouts)
            record.locked_until = now + lockout
            record.lockouts += 1
            record.failures = 0
        self._recent.append((now, client))
        while self._recent and self._recent[0][0] <= now - self.global_window_s:
            self._recent.popleft()
        if len(self._recent) >= self.global_max_failures:
            self._global_until = now + LOCKOUT_S
            self._recent.clear()
        if len(self._clients) > _MAX_CLIENTS:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        """Drop clients that are not locked and have not failed within the window."""
        for name, record in list(self._clients.items()):
            if record.locked_until <= now and record.last_seen <= now - self.global_window_s:
                del self._clients[name]


THROTTLE = LoginThrottle()


def configured_hash(settings: Settings) -> str:
    """The configured password hash, checked.

    Raises:
        NoPasswordConfiguredError: none is configured.
        InvalidHashError: it is malformed.
    """
    secret = settings.admin.admin_password_hash
    stored = secret.get_secret_value().strip() if secret is not None else ""
    if not stored:
        raise NoPasswordConfiguredError()
    check_hash(stored)
    return stored


def hash_fingerprint(stored: str) -> str:
    """A short digest of the configured hash: a session ends when the hash is changed."""
    return hashlib.sha256(stored.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class AdminSession:
    """A signed-in admin: valid until ``expires_at`` (epoch seconds) and for one hash."""

    expires_at: float
    fingerprint: str

    def valid(self, settings: Settings, now: float | None = None) -> bool:
        """Whether the session has not expired and the password hash has not changed."""
        if (time.time() if now is None else now) >= self.expires_at:
            return False
        try:
            current = hash_fingerprint(configured_hash(settings))
        except AuthError:
            return False
        return hmac.compare_digest(self.fingerprint, current)


def sign_in(
    settings: Settings,
    password: str,
    *,
    client: str = LOCAL_CLIENT,
    throttle: LoginThrottle = THROTTLE,
    now: float | None = None,
) -> AdminSession:
    """Check the admin password; a new session on success. Every attempt is audited.

    Args:
        settings: the settings (the hash, the session length, the audit log).
        password: what was typed.
        client: who is trying: an address, or a browser session when none is known.
        throttle: the lockout counter.
        now: the time, for tests.

    Raises:
        NoPasswordConfiguredError: no hash is configured.
        InvalidHashError: the configured hash is malformed.
        LockedOutError: too many recent failures (the password is not even checked).
        WrongPasswordError: the password does not match.
    """
    stored = configured_hash(settings)
    try:
        throttle.admit(client)
    except LockedOutError as err:
        _audit(settings, client, "locked", err.seconds_left)
        raise
    if not verify_password(password, stored):
        locked = throttle.seconds_locked(client)
        _audit(settings, client, "failed", locked)
        if locked > 0:
            raise LockedOutError(locked)
        raise WrongPasswordError("Wrong password.")
    throttle.succeeded(client)
    _audit(settings, client, "ok", 0.0)
    started = time.time() if now is None else now
    return AdminSession(
        expires_at=started + settings.admin.admin_session_minutes * 60,
        fingerprint=hash_fingerprint(stored),
    )


def _audit(settings: Settings, client: str, outcome: str, seconds_locked: float) -> None:
    """One audit row per sign-in attempt: who tried, the outcome, any lockout now in force."""
    detail = {"client": client, "seconds_locked": round(seconds_locked)}
    audit_for(settings).record(
        "admin_sign_in", outcome=outcome, user="admin", session=client, detail=json.dumps(detail)
    )
