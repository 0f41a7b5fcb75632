"""Who is asking: the user every answer, record and retrieval is made for.

A `User` comes from the sign-in of the UI (``KBCHAT_AUTH_MODE``: an identity provider's
claims, an authenticating proxy's headers, or the one local user) or, on the command line,
from ``--as USER --groups G1,G2``. Retrieval reads only the documents the user's groups may
read (`kbchat.access`); every ledger and audit row names the user's id.

Group names are compared case-insensitively, with surrounding spaces removed. Every user is
in `EVERYONE`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kbchat.errors import ConfigError

EVERYONE = "everyone"
LOCAL_USER_ID = "local"
LOCAL_USER_NAME = "Local user (no sign-in)"
_MAX_GROUP_CHARS = 200


class IdentityError(ConfigError):
    """A user or group name that cannot be used (empty, too long, control characters)."""


def normalise_group(name: str) -> str:
    """A group name as kbchat compares it: stripped and case-folded.

    Raises:
        IdentityError: the name is empty, longer than 200 characters, or holds a control
            character or a double quote.
    """
    group = name.strip().casefold()
    if not group:
        raise IdentityError("A group name is empty.")
    if len(group) > _MAX_GROUP_CHARS:
        raise IdentityError(f"The group name {group[:40]!r}… is longer than 200 characters.")
    if any(ord(c) < 32 or c in '"\\' for c in group):
        raise IdentityError(f"The group name {group!r} holds a control character or a quote.")
    return group


def normalise_groups(names: Iterable[str]) -> frozenset[str]:
    """Several group names, normalised (see `normalise_group`); empty names are skipped."""
    return frozenset(normalise_group(n) for n in names if n.strip())


def parse_groups(text: str | None) -> frozenset[str]:
    """Groups from a comma-separated list (``hr, finance``); ``None`` or blank is none."""
    return normalise_groups((text or "").split(","))


@dataclass(frozen=True)
class User:
    """The person a question is answered for.

    Attributes:
        id: stable identifier written to every record (an e-mail, a subject id, ``local``).
        name: what the UI shows.
        groups: normalised group names; always holds `EVERYONE`.
        admin: may use the Admin page and see every user's records.
        full_access: reads every document whatever its access (the local user of
            ``KBCHAT_AUTH_MODE=none`` and the command line without ``--as``).
    """

    id: str
    name: str
    groups: frozenset[str] = field(default_factory=frozenset)
    admin: bool = False
    full_access: bool = False

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise IdentityError("A user id is empty.")
        object.__setattr__(self, "groups", frozenset({*self.groups, EVERYONE}))

    def may_read(self, access: Iterable[str]) -> bool:
        """Whether a document with these groups is readable by this user."""
        return self.full_access or not self.groups.isdisjoint(access)


def local_user() -> User:
    """The one user of ``KBCHAT_AUTH_MODE=none`` and of the command line: reads everything."""
    return User(LOCAL_USER_ID, LOCAL_USER_NAME, admin=False, full_access=True)


def acting_user(user_id: str, groups: Iterable[str], *, admin_groups: Iterable[str] = ()) -> User:
    """A user with exactly these groups (``--as USER --groups G1,G2``, or a sign-in).

    Raises:
        IdentityError: the id or a group name cannot be used.
    """
    members = normalise_groups(groups)
    is_admin = not members.isdisjoint(normalise_groups(admin_groups))
    return User(user_id.strip(), user_id.strip(), members, admin=is_admin)


def user_from_claims(
    claims: Mapping[str, object],
    *,
    user_claim: str,
    groups_claim: str,
    admin_groups: Iterable[str] = (),
) -> User:
    """The user an identity provider's ID-token claims describe.

    The id is ``user_claim`` (for example ``email``), else ``sub``; groups come from
    ``groups_claim``, a list of names or one comma-separated string.

    Raises:
        IdentityError: the claims name no user, or a group cannot be used.
    """
    raw_id = claims.get(user_claim) or claims.get("sub")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise IdentityError(f"The identity provider's token has no {user_claim!r} or 'sub' claim.")
    raw_groups = claims.get(groups_claim) or []
    if isinstance(raw_groups, str):
        names: list[str] = raw_groups.split(",")
    elif isinstance(raw_groups, list | tuple):
        names = [str(g) for g in raw_groups]
    else:
        names = []
    user = acting_user(raw_id, names, admin_groups=admin_groups)
    shown = claims.get("name")
    if isinstance(shown, str) and shown.strip():
        return User(user.id, shown.strip(), user.groups, admin=user.admin)
    return user


class MissingProxyHeaderError(IdentityError):
    """Header mode, but the request carries no user header: kbchat was reached directly."""


def user_from_headers(
    headers: Mapping[str, str],
    *,
    user_header: str,
    groups_header: str,
    admin_groups: Iterable[str] = (),
) -> User:
    """The user an authenticating proxy names in its request headers (``KBCHAT_AUTH_MODE=header``).

    Header names are compared case-insensitively; groups are one comma-separated header.

    Raises:
        MissingProxyHeaderError: no (or a blank) user header.
        IdentityError: a group name cannot be used.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    raw_id = lowered.get(user_header.lower(), "")
    if not raw_id.strip():
        raise MissingProxyHeaderError(
            f"The request has no {user_header} header: kbchat must be reached through the "
            "sign-in proxy (KBCHAT_AUTH_MODE=header), not directly. Open the address the "
            "proxy serves, or set KBCHAT_AUTH_USER_HEADER to the header your proxy sets."
        )
    return acting_user(
        raw_id, parse_groups(lowered.get(groups_header.lower())), admin_groups=admin_groups
    )
