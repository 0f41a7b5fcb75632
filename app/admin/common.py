"""What the admin page's parts share: the settings in force, the user name, flash messages."""

from __future__ import annotations

from typing import Literal

import streamlit as st

from app.render import label_markdown
from kbchat.admin.jobs import start_reingest
from kbchat.errors import KbchatError
from kbchat.settings import Settings

ADMIN_USER = "admin"  # one admin account: the audit log names it so
_FLASH = "kbchat_admin_flash"

Kind = Literal["success", "info", "warning", "error"]


def flash(kind: Kind, text: str) -> None:
    """Keep a message for the next run (shown once, after an action that reruns the page).

    The text is shown exactly as written (escaped): it may contain file names.
    """
    st.session_state.setdefault(_FLASH, []).append((kind, label_markdown(text)))


def show_flashes() -> None:
    """Show, and forget, the messages kept by `flash`."""
    for kind, markdown in st.session_state.pop(_FLASH, []):
        getattr(st, kind)(markdown)


def say(kind: Kind, text: str) -> None:
    """Show a message now, escaped (it may contain file names or text from documents)."""
    getattr(st, kind)(label_markdown(text))


def reingest_after(config: Settings, what: str) -> None:
    """Start the re-ingest that writes a change into the index, and say how that went.

    ``what`` is already in force (the gate reads labels and rules at question time); a run
    that cannot start or fails at once is shown as an error with its reason.
    """
    try:
        start_reingest(config, user=ADMIN_USER)
    except KbchatError as err:
        flash("error", f"{what} is in force, but the re-ingest that writes it into the index "
              f"failed: {err}. Start it again from the Re-ingest tab.")  # fmt: skip
    else:
        flash("info", f"{what} is in force; a re-ingest has started to write it into the index.")
