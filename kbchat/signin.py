"""The sign-in decisions that need no Streamlit: which address mode ``none`` may serve, whether
an OIDC configuration is complete, and the audit row of each sign-in and refusal.

``app/identity.py`` renders what these decide; ``make run`` / ``make ui`` call
``python -m kbchat.signin --address HOST`` first, so that an anonymous UI on a public address
never starts.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Mapping, Sequence
from typing import Literal

from kbchat.audit import audit_for
from kbchat.errors import ConfigError
from kbchat.identity import User
from kbchat.settings import AuthSettings, Settings

REDIRECT_PATH = "/oauth2callback"
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
SignInOutcome = Literal["ok", "refused"]


class SignInRefusedError(ConfigError):
    """The UI must not serve users as configured; the message says which setting to change."""


def is_loopback(address: str | None) -> bool:
    """Whether Streamlit bound to ``address`` (``server.address``) is reachable only from this
    machine: ``localhost``, 127.0.0.0/8 or ``::1``. Empty means every interface: not loopback.
    """
    host = (address or "").strip().strip("[]")
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def anonymous_refusal(auth: AuthSettings, server_address: str | None) -> str | None:
    """Why mode ``none`` must not serve ``server_address``, or ``None`` when it may.

    Mode ``none`` makes everyone who reaches the UI the local user, who reads every document;
    that is only safe on a loopback address, unless ``KBCHAT_ALLOW_ANONYMOUS=true``.
    """
    if auth.auth_mode != "none" or auth.allow_anonymous or is_loopback(server_address):
        return None
    shown = server_address.strip() if server_address and server_address.strip() else "all"
    return (
        f"kbchat refuses to serve address {shown!r} without sign-in: with KBCHAT_AUTH_MODE=none "
        "everyone who reaches it would read every document. Serve 127.0.0.1 (KBCHAT_UI_HOST, "
        "or streamlit's --server.address), or set KBCHAT_AUTH_MODE=oidc or header, or (on a "
        "network you trust) KBCHAT_ALLOW_ANONYMOUS=true."
    )


def _files(secrets_files: Sequence[str]) -> str:
    return " or ".join(secrets_files) if secrets_files else ".streamlit/secrets.toml"


def oidc_config_problem(
    auth_section: Mapping[str, object] | None,
    provider: str | None,
    secrets_files: Sequence[str] = (),
) -> str | None:
    """What is missing from the ``[auth]`` section of Streamlit's secrets for ``st.login``, or
    ``None`` when it is complete.

    Args:
        auth_section: the ``[auth]`` table of ``secrets.toml`` (``None``: there is none).
        provider: ``KBCHAT_OIDC_PROVIDER`` (``[auth.NAME]``), or ``None`` for ``[auth]`` itself.
        secrets_files: where Streamlit reads secrets (``secrets.files``), named in the message.
    """
    where = _files(secrets_files)
    if not auth_section:
        return (
            f"KBCHAT_AUTH_MODE=oidc, but there is no [auth] section in {where}. Add one with "
            "redirect_uri, cookie_secret, client_id, client_secret and server_metadata_url "
            "(see the README, Sign-in), or set KBCHAT_AUTH_MODE=none for a laptop."
        )
    missing = [key for key in ("redirect_uri", "cookie_secret") if not auth_section.get(key)]
    if missing:
        return f"The [auth] section of {where} has no {', '.join(missing)}: add it."
    redirect = str(auth_section["redirect_uri"])
    if not redirect.startswith(("http://", "https://")) or not redirect.endswith(REDIRECT_PATH):
        return (
            f"redirect_uri in the [auth] section of {where} must be the UI's absolute address "
            f"ending in {REDIRECT_PATH} (e.g. http://127.0.0.1:8501{REDIRECT_PATH}), not "
            f"{redirect!r}."
        )
    if provider:
        if "_" in provider:
            return f"KBCHAT_OIDC_PROVIDER={provider!r}: Streamlit refuses underscores there."
        section = auth_section.get(provider)
        table = f"[auth.{provider}]"
        if not isinstance(section, Mapping):
            return (
                f"KBCHAT_OIDC_PROVIDER={provider!r}, but {where} has no {table} section: add "
                "it, or leave KBCHAT_OIDC_PROVIDER empty to use [auth] itself."
            )
    else:
        section, table = auth_section, "[auth]"
    absent = [key for key in PROVIDER_KEYS if not section.get(key)]
    if absent:
        return f"The {table} section of {where} has no {', '.join(absent)}: add it."
    metadata = str(section["server_metadata_url"])
    if not metadata.startswith(("http://", "https://")):
        return (
            f"server_metadata_url in the {table} section of {where} must be an absolute URL "
            "(the provider's /.well-known/openid-configuration)."
        )
    return None


def record_sign_in(
    settings: Settings,
    outcome: SignInOutcome,
    *,
    user: User | None,
    session: str | None = None,
    detail: str | None = None,
) -> None:
    """One audit row for a sign-in (``ok``, with the user's id, groups and admin flag) or a
    refusal (``refused``, with the reason)."""
    mode = settings.auth.auth_mode
    if user is not None:
        groups = ",".join(sorted(user.groups))
        detail = f"mode={mode} groups={groups} admin={user.admin}" + (
            f" {detail}" if detail else ""
        )
    else:
        detail = f"mode={mode}" + (f" {detail}" if detail else "")
    audit_for(settings).record(
        "sign_in",
        outcome=outcome,
        session=session,
        user=user.id if user is not None else None,
        detail=detail,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kbchat.signin --address HOST``: exit 2, with the reason, if the UI must not
    start on that address (the check ``make run`` and ``make ui`` make first)."""
    parser = argparse.ArgumentParser(prog="python -m kbchat.signin", description=main.__doc__)
    parser.add_argument("--address", default="", help="the --server.address the UI will use")
    args = parser.parse_args(argv)
    refusal = anonymous_refusal(Settings().auth, args.address)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
