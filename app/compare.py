"""The Compare page: one question, the private model and ChatGPT side by side, a judgement.

``app/views/compare.py`` calls `render_page`. Both models get the same retrieved passages and
the same prompt, minus what the policy gate withholds from ChatGPT (listed above the columns).
"""

from __future__ import annotations

import logging

import streamlit as st

from app import conversation, services
from app.comparisons import ShownComparison, session_comparisons
from app.render import answer_markdown, label_markdown
from app.side_by_side import new_comparison, render_comparison, stream_comparison
from kbchat.errors import KbchatError
from kbchat.settings import Settings

logger = logging.getLogger(__name__)

INTRO = (
    "Both models answer the same question from the same passages with the same prompt; "
    "ChatGPT gets only what the policy gate lets through (shown above the answers). "
    "Record which answer was better: judgements feed the Quality page."
)
UNEXPECTED = "Something went wrong while comparing. Please try again; the details are logged."


def _question_form(unavailable: str | None) -> str | None:
    """The question box; returns the question when one was submitted."""
    with st.form("compare-form", border=False):
        question = st.text_input(
            "Question",
            key="compare-question",
            placeholder="Ask something the company documents answer",
        )
        label = "Ask the private model" if unavailable else "Compare"
        asked = st.form_submit_button(label, type="primary", icon=":material/compare_arrows:")
    text = (question or "").strip()
    return text if asked and text else None


def _heading(shown: ShownComparison) -> None:
    st.markdown(f"### {answer_markdown(shown.question)}")


def _run(question: str, config: Settings) -> None:
    """Retrieve once for the user, then stream both answers (or the private one alone, when
    the cloud is unavailable) into the page, through the answering service."""
    assistant = services.assistant(config)
    user = services.user()
    with st.spinner("Searching the documents…"):
        retrieval = assistant.retrieve(question, user=user)
    run = assistant.answer(retrieval, user=user, models="both", session=conversation.session_id())
    shown = new_comparison(run, config)
    session_comparisons().append(shown)  # kept even if a rerun interrupts the answers
    _heading(shown)
    stream_comparison(run, shown)


def render_page() -> None:
    """Question form; a new comparison streams below it, earlier ones (newest first) follow."""
    st.title("Compare the private model and ChatGPT")
    st.caption(INTRO)
    config = services.settings()
    unavailable = services.cloud_unavailable(config)
    if unavailable:
        st.warning(
            label_markdown(f"{unavailable} Only the private model answers here."),
            icon=":material/cloud_off:",
        )
    question = _question_form(unavailable)
    current = st.container()
    for shown in reversed(session_comparisons()):
        st.divider()
        _heading(shown)
        render_comparison(shown)
    if question is None:
        return
    with current:
        try:
            _run(question, config)
        except KbchatError as err:
            st.error(label_markdown(str(err)))
        except Exception:
            logger.exception("Comparing answers failed")
            st.error(UNEXPECTED)
