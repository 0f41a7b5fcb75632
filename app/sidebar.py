"""The sidebar of every page: the knowledge base figures and the model in use."""

from __future__ import annotations

import logging

import streamlit as st

from app import services
from app.render import label_markdown, when
from kbchat.errors import KbchatError

logger = logging.getLogger(__name__)


def _knowledge_base() -> None:
    st.subheader("Knowledge base")
    try:
        figures = services.knowledge_stats()
    except KbchatError as err:
        st.error(label_markdown(str(err)))
        return
    except Exception:
        logger.exception("The knowledge base figures cannot be read")
        st.error("The knowledge base cannot be read; the details are logged.")
        return
    documents, chunks = st.columns(2)
    documents.metric("Documents", f"{figures.documents:,}")
    chunks.metric("Chunks", f"{figures.chunks:,}")
    st.caption(f"Last ingest: {when(figures.last_ingest)}")
    if figures.failed_files:
        st.caption(f"{figures.failed_files} file(s) could not be read at the last ingest.")
    if figures.ingest_running:
        st.caption("An ingestion is running now; answers use the index as it was.")


def _model() -> None:
    st.subheader("Model")
    try:
        model = services.describe_model()
    except KbchatError as err:
        st.error(label_markdown(str(err)))
        return
    except Exception:
        logger.exception("The private model cannot be described")
        st.error("The private model cannot be set up; the details are logged.")
        return
    st.markdown(f"**{label_markdown(model.name)}**")
    if model.fallback:
        st.caption(label_markdown(f"Stand-in for {model.configured}, which is not present."))
    elif model.server:
        st.caption(label_markdown(f"Private model server: {model.server}"))
    else:
        st.caption("Private model, running on this server.")


def _signed_in() -> None:
    """Who is signed in (name, groups) and, with single sign-on, the Sign out button."""
    from app.identity import current_user, sign_out, sign_out_available

    user = current_user()
    if user is None:
        return
    st.markdown(f"Signed in: **{label_markdown(user.name)}**" + (" (admin)" if user.admin else ""))
    if user.full_access:
        st.caption("Everyone on this machine is this user; sign-in is off (KBCHAT_AUTH_MODE=none).")
    else:
        st.caption(label_markdown("Groups: " + ", ".join(sorted(user.groups))))
    if sign_out_available():
        st.button("Sign out", on_click=sign_out, key="sign-out", icon=":material/logout:")


def render_sidebar() -> None:
    """Who is signed in, knowledge base figures (documents, chunks, last ingest), the model."""
    with st.sidebar:
        _signed_in()
        _knowledge_base()
        _model()
