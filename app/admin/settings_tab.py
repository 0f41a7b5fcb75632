"""The Settings tab: what an admin may change at run time (stored, audited, in force at once)."""

from __future__ import annotations

import streamlit as st

from app.admin.common import ADMIN_USER, flash, reingest_after, say
from kbchat.errors import KbchatError
from kbchat.overrides import set_override
from kbchat.settings import Settings


def _patterns(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _save(config: Settings, cloud: bool, patterns: list[str]) -> None:
    changed_paths = patterns != list(config.ingest.confidential_paths)
    try:
        if cloud != config.cloud.cloud_allowed:
            set_override(config, "cloud_allowed", cloud, user=ADMIN_USER)
            flash("success", f"The cloud model is now {'allowed' if cloud else 'not allowed'}.")
        if changed_paths:
            set_override(config, "confidential_paths", patterns, user=ADMIN_USER)
            flash("success", "Confidential path patterns saved.")
    except KbchatError as err:
        flash("error", str(err))
        return
    if changed_paths:
        reingest_after(config, "The new patterns")
    if not changed_paths and cloud == config.cloud.cloud_allowed:
        flash("info", "Nothing changed.")


def render_settings(config: Settings) -> None:
    """The cloud switch and the confidential path patterns."""
    st.caption(
        "These settings override the environment and .env until changed here again; every "
        "change is written to the audit log."
    )
    with st.form("admin-settings"):
        cloud = st.toggle(
            "Allow the cloud model",
            value=config.cloud.cloud_allowed,
            key="admin-cloud-allowed",
            help="Off: no question is ever sent to the cloud model. On: the policy gate still "
            "withholds confidential passages and redacts what it sends.",
        )
        text = st.text_area(
            "Confidential path patterns, one per line",
            value="\n".join(config.ingest.confidential_paths),
            key="admin-confidential-paths",
            help="Glob patterns relative to the document folder (** spans folders), e.g. "
            "hr/private/**. Matching files are confidential whatever they say.",
        )
        saved = st.form_submit_button("Save settings", icon=":material/save:")
    has_key = config.cloud.openai_api_key is not None
    st.caption(
        "The cloud model also needs OPENAI_API_KEY in the server's environment: "
        + ("it is set." if has_key else "it is not set.")
    )
    if saved:
        _save(config, bool(cloud), _patterns(text))
        st.rerun()
    if config.ingest.confidential_paths:
        say("info", "In force: " + ", ".join(config.ingest.confidential_paths))
