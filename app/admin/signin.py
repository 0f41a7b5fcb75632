"""The sign-in in front of the admin page, and signing out.

The session lives in this browser tab's ``st.session_state`` (a reload signs out): the time
it ends and a fingerprint of the password hash, so that changing the hash ends it too.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import streamlit as st

from app import conversation
from app.render import when
from kbchat.admin.auth import (
    AdminSession,
    AuthError,
    LockedOutError,
    WrongPasswordError,
    configured_hash,
    sign_in,
)
from kbchat.settings import Settings

logger = logging.getLogger(__name__)

SESSION_KEY = "kbchat_admin_session"
EXPIRED = "Your admin session has ended: sign in again."
SIGNED_OUT = "You are signed out."


def _session() -> AdminSession | None:
    stored = st.session_state.get(SESSION_KEY)
    if not isinstance(stored, dict):
        return None
    try:
        return AdminSession(float(stored["expires_at"]), str(stored["fingerprint"]))
    except (KeyError, TypeError, ValueError):
        return None


def signed_in(config: Settings) -> bool:
    """Whether this tab holds a valid admin session (an ended one is dropped, with a notice)."""
    session = _session()
    if session is None:
        return False
    if session.valid(config):
        return True
    del st.session_state[SESSION_KEY]
    st.info(EXPIRED)
    return False


def _sign_out() -> None:
    st.session_state.pop(SESSION_KEY, None)
    st.session_state["kbchat_admin_signed_out"] = True
    logger.info("Admin signed out")


def render_account(config: Settings) -> None:
    """Who is signed in until when, and the sign-out button."""
    session = _session()
    if session is None:
        return
    until = datetime.fromtimestamp(session.expires_at, UTC).isoformat()
    left, right = st.columns([3, 1])
    left.caption(f"Signed in as admin until {when(until)}.")
    right.button("Sign out", on_click=_sign_out, key="admin-sign-out", icon=":material/logout:")


def client_id() -> str:
    """Who is signing in, for the lockout count: the browser's address as Streamlit sees it,
    or this browser session when there is none (a test, a socket).

    Forwarded-for headers are not used: any client can write them, and would get a fresh
    count with each made-up address (the global ceiling would still hold).
    """
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no request context (a bare script run)
        address = None
    if isinstance(address, str) and address:
        return f"ip:{address}"
    return f"session:{conversation.session_id()}"


def render_sign_in(config: Settings) -> None:
    """The password form; or, with no usable password hash, how to set one (page locked)."""
    if st.session_state.pop("kbchat_admin_signed_out", False):
        st.success(SIGNED_OUT)
    try:
        configured_hash(config)
    except AuthError as err:
        st.warning(str(err), icon=":material/lock:")
        st.code("kbchat admin hash-password\nexport KBCHAT_ADMIN_PASSWORD_HASH=...", "bash")
        return
    with st.form("admin-sign-in", clear_on_submit=True):
        password = st.text_input("Admin password", type="password", key="admin-password")
        submitted = st.form_submit_button("Sign in", icon=":material/login:")
    if not submitted:
        return
    try:
        session = sign_in(config, password, client=client_id())
    except LockedOutError as err:
        logger.warning("Admin sign-in refused: locked out after repeated failures")
        st.error(str(err), icon=":material/lock_clock:")
        return
    except WrongPasswordError as err:
        logger.warning("Failed admin sign-in")
        st.error(str(err))
        return
    except AuthError as err:
        st.error(str(err))
        return
    logger.info("Admin signed in")
    st.session_state[SESSION_KEY] = {
        "expires_at": session.expires_at,
        "fingerprint": session.fingerprint,
    }
    st.rerun()
