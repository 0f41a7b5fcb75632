"""Who is using the UI: `current_user`, the one function pages call.

``KBCHAT_AUTH_MODE`` picks how (decisions in `kbchat.signin` and `kbchat.identity`):

- ``oidc``: Streamlit's ``st.login`` / ``st.user`` against the identity provider configured in
  the ``[auth]`` section of ``.streamlit/secrets.toml``.
- ``header``: the user and groups headers of an authenticating proxy, read on every run from
  this session's request (never cached: the headers are the proof).
- ``none``: the local user, on a loopback address only (unless ``KBCHAT_ALLOW_ANONYMOUS``).

When no user is known, `current_user` renders the sign-in or refusal page, and nothing else,
and returns ``None``; ``app/main.py`` then stops the run.
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.errors import StreamlitAuthError

from app import conversation
from kbchat.errors import KbchatError
from kbchat.identity import IdentityError, User, local_user, user_from_claims, user_from_headers
from kbchat.settings import Settings
from kbchat.signin import SignInOutcome, anonymous_refusal, oidc_config_problem, record_sign_in

logger = logging.getLogger(__name__)

_USER_KEY = "kbchat_user"  # oidc and none: the user of this session
_AUDITED_KEY = "kbchat_sign_in_audited"  # what this session's last audit row said


def _audit_once(config: Settings, outcome: SignInOutcome, user: User | None, why: str) -> None:
    """One audit row per change of who (or why not) in this session, not one per rerun."""
    mark = f"{outcome}:{user.id if user else ''}:{why}"
    if st.session_state.get(_AUDITED_KEY) == mark:
        return
    st.session_state[_AUDITED_KEY] = mark
    try:
        record_sign_in(
            config, outcome, user=user, session=conversation.session_id(), detail=why or None
        )
    except Exception:  # the audit log must not lock everyone out; the failure is logged
        logger.exception("The sign-in could not be written to the audit log")


def _refuse(config: Settings, title: str, message: str, *, user: User | None = None) -> None:
    logger.warning("Sign-in refused: %s", message)
    _audit_once(config, "refused", user, message)
    st.title(title)
    st.error(message, icon=":material/block:")


def _server_address() -> str:
    return str(st.get_option("server.address") or "")


def _local(config: Settings) -> User | None:
    refusal = anonymous_refusal(config.auth, _server_address())
    if refusal:
        _refuse(config, "kbchat is not available here", refusal)
        return None
    return local_user()


def _from_headers(config: Settings) -> User | None:
    try:
        headers = dict(st.context.headers)
    except Exception:  # noqa: BLE001 - no request context (a bare script run, AppTest)
        headers = {}
    try:
        return user_from_headers(
            headers,
            user_header=config.auth.auth_user_header,
            groups_header=config.auth.auth_groups_header,
            admin_groups=config.auth.admin_groups,
        )
    except IdentityError as err:
        _refuse(config, "Sign in through the company proxy", str(err))
        return None


def _secrets_files() -> list[str]:
    return [str(f) for f in st.get_option("secrets.files") or []]


def _auth_section() -> dict[str, object] | None:
    try:
        section = st.secrets.get("auth")
    except Exception:  # noqa: BLE001 - no secrets file, or one that is not valid TOML
        return None
    if section is None:  # no [auth] table in the secrets
        return None
    return section.to_dict() if hasattr(section, "to_dict") else section


def _sign_in_page(config: Settings) -> None:
    problem = oidc_config_problem(_auth_section(), config.auth.oidc_provider, _secrets_files())
    if problem:
        _refuse(config, "Sign-in is not set up", problem)
        return
    st.title("Sign in to kbchat")
    st.write("kbchat answers from the company's documents; sign in to see those you may read.")
    if st.button("Sign in", type="primary", icon=":material/login:", key="oidc-sign-in"):
        try:
            st.login(config.auth.oidc_provider or None)
        except StreamlitAuthError as err:
            _refuse(config, "Sign-in is not set up", f"{err} (files: {_secrets_files()})")


def _logged_in() -> bool:
    return st.user.to_dict().get("is_logged_in") is True


def _from_oidc(config: Settings) -> User | None:
    if not _logged_in():
        st.session_state.pop(_USER_KEY, None)
        _sign_in_page(config)
        return None
    try:
        return user_from_claims(
            st.user.to_dict(),
            user_claim=config.auth.oidc_user_claim,
            groups_claim=config.auth.oidc_groups_claim,
            admin_groups=config.auth.admin_groups,
        )
    except IdentityError as err:
        _refuse(
            config,
            "This sign-in cannot be used",
            f"{err} Check KBCHAT_OIDC_USER_CLAIM and KBCHAT_OIDC_GROUPS_CLAIM, or the "
            "provider's claims for this client.",
        )
        st.button("Sign out", on_click=st.logout, key="oidc-refused-sign-out")
        return None


def _resolve(config: Settings) -> User | None:
    mode = config.auth.auth_mode
    if mode == "header":
        return _from_headers(config)
    cached = st.session_state.get(_USER_KEY)
    if isinstance(cached, User) and (mode != "oidc" or _logged_in()):
        return cached
    user = _from_oidc(config) if mode == "oidc" else _local(config)
    if user is not None:
        st.session_state[_USER_KEY] = user
    return user


def current_user() -> User | None:
    """The signed-in user, or ``None`` after rendering the sign-in or refusal page."""
    try:
        config = Settings()
    except KbchatError as err:
        st.error(str(err))
        return None
    user = _resolve(config)
    if user is not None:
        _audit_once(config, "ok", user, "")
    return user


def sign_out_available() -> bool:
    """Whether the sidebar offers a Sign out button (only ``oidc`` can sign out)."""
    try:
        return Settings().auth.auth_mode == "oidc"
    except KbchatError:
        return False


def sign_out() -> None:
    """End the ``st.login`` session (and this tab's user)."""
    st.session_state.pop(_USER_KEY, None)
    st.session_state.pop(_AUDITED_KEY, None)
    st.logout()
