"""The Admin page: sign-in, then documents, re-ingest, settings, audit log and ledger.

``app/views/admin.py`` calls `render_page`. Nothing below the sign-in is rendered, or even
read, without a valid admin session.
"""

from __future__ import annotations

import logging

import streamlit as st

from app import services
from app.admin.common import say, show_flashes
from app.admin.documents_tab import render_documents
from app.admin.ingest_tab import render_reingest
from app.admin.logs_tab import render_audit, render_ledger
from app.admin.settings_tab import render_settings
from app.admin.signin import render_account, render_sign_in, signed_in
from app.identity import current_user
from kbchat.overrides import read_overrides

logger = logging.getLogger(__name__)

TABS = ["Documents", "Re-ingest", "Settings", "Audit log", "Ledger"]


def render_page() -> None:
    """The page; locked until an admin signs in."""
    st.title("Admin")
    config = services.settings()
    user = current_user()
    if user is None:
        return
    if user.admin:  # a member of KBCHAT_ADMIN_GROUPS: no password
        st.caption(f"Signed in as {user.name}, a member of an admin group.")
    elif not signed_in(config):  # everyone else: the admin password, as without sign-in
        render_sign_in(config)
        return
    else:
        render_account(config)
    problem = read_overrides(services.settings()).error
    if problem:  # the settings in force fail closed meanwhile (kbchat.overrides)
        say("error", problem)
    with st.container():  # always there, so the tabs keep their place (and the open tab)
        show_flashes()
    documents, reingest, settings, audit, ledger = st.tabs(TABS, key="admin-tabs")
    for tab, render in (
        (documents, render_documents),
        (reingest, render_reingest),
        (settings, render_settings),
        (audit, render_audit),
        (ledger, render_ledger),
    ):
        with tab:
            try:
                render(config)
            except Exception:
                logger.exception("The admin tab failed")
                st.error("This part of the page failed; the details are logged.")
