"""The admin sign-in: password hashes, constant-time checks, lockout, session expiry.

The password is never stored: the environment holds a salted scrypt hash
(``KBCHAT_ADMIN_PASSWORD_HASH``) in a self-describing form, ``scrypt:n:r:p:salt:hash``
(base64 salt and hash; colons rather than ``$`` so that shells and env files leave it alone).
There is no default password: with no hash configured the admin page stays locked.

Failed sign-ins are counted per process: after `MAX_FAILURES` in a row the sign-in is locked
for `LOCKOUT_S`, doubled at each further lockout up to `MAX_LOCKOUT_S`; a success resets it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

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


class LoginThrottle:
    """Failed sign-ins of this process, and the lockout they cause.

    Args:
        clock: seconds on a monotonic clock (tests pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._lockouts = 0
        self._locked_until = 0.0

    def seconds_locked(self) -> float:
        """Seconds until sign-in is allowed again (0 when it is allowed)."""
        with self._lock:
            return max(0.0, self._locked_until - self._clock())

    def failed(self) -> None:
        """Count a failure; the `MAX_FAILURES`-th in a row locks sign-in, longer each time."""
        with self._lock:
            self._failures += 1
            if self._failures >= MAX_FAILURES:
                lockout = min(MAX_LOCKOUT_S, LOCKOUT_S * 2**self._lockouts)
                self._locked_until = self._clock() + lockout
                self._lockouts += 1
                self._failures = 0

    def succeeded(self) -> None:
        """Forget failures and lockouts."""
        with self._lock:
            self._failures = 0
            self._lockouts = 0
            self._locked_until = 0.0


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
    throttle: LoginThrottle = THROTTLE,
    now: float | None = None,
) -> AdminSession:
    """Check the admin password; a new session on success.

    Raises:
        NoPasswordConfiguredError: no hash is configured.
        InvalidHashError: the configured hash is malformed.
        LockedOutError: too many recent failures (the password is not even checked).
        WrongPasswordError: the password does not match.
    """
    stored = configured_hash(settings)
    locked = throttle.seconds_locked()
    if locked > 0:
        raise LockedOutError(locked)
    if not verify_password(password, stored):
        throttle.failed()
        locked = throttle.seconds_locked()
        if locked > 0:
            raise LockedOutError(locked)
        raise WrongPasswordError("Wrong password.")
    throttle.succeeded()
    started = time.time() if now is None else now
    return AdminSession(
        expires_at=started + settings.admin.admin_session_minutes * 60,
        fingerprint=hash_fingerprint(stored),
    )
