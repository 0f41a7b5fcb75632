"""Below a side-by-side comparison: the agreement figure and the judgement form."""

from __future__ import annotations

import logging
import sqlite3

import streamlit as st

from app import services
from app.comparisons import VERDICT_LABELS, ShownComparison
from app.render import label_markdown

logger = logging.getLogger(__name__)

AGREEMENT_HELP = "Semantic similarity of the two answers (0–100%)."
NO_AGREEMENT = "Agreement: not measured (it needs an answer from both models)."
NOTHING_TO_JUDGE = "Nothing to judge: a judgement needs an answer from both models."
CHOOSE_FIRST = "Choose which answer was better, then save."


def _both_answered(shown: ShownComparison) -> bool:
    comparison = shown.comparison
    return (
        all(
            answer is not None and answer.answered_by_model and not answer.error
            for answer in (comparison.private, comparison.cloud)
        )
        and not comparison.errors
    )


def _save(shown: ShownComparison) -> None:
    """Form callback: store the chosen verdict and comment against the recorded comparison."""
    verdict = st.session_state.get(f"verdict-{shown.uid}")
    comment = (st.session_state.get(f"comment-{shown.uid}") or "").strip()
    if verdict is None or shown.comparison_id is None:
        shown.judgement_error = CHOOSE_FIRST
        return
    try:
        services.ledger().record_judgement(
            shown.comparison_id, verdict, comment or None, user=services.user().id
        )
    except (ValueError, sqlite3.Error):
        logger.exception("Could not store the judgement of comparison %s", shown.comparison_id)
        shown.judgement_error = "The judgement could not be saved; the details are logged."
        return
    shown.verdict, shown.judgement_error = verdict, None


def render_judgement(shown: ShownComparison) -> None:
    """Which answer was better (private, ChatGPT, tie, both wrong), with an optional comment,
    saved to the ledger; a later judgement of the same comparison replaces it."""
    if shown.record_error:
        st.caption(shown.record_error)
        return
    if shown.comparison_id is None or not _both_answered(shown):
        st.caption(NOTHING_TO_JUDGE)
        return
    with st.form(key=f"judge-{shown.uid}"):
        st.radio(
            "Which answer was better?",
            list(VERDICT_LABELS),
            format_func=VERDICT_LABELS.__getitem__,
            index=None,
            horizontal=True,
            key=f"verdict-{shown.uid}",
        )
        st.text_input("Comment (optional)", key=f"comment-{shown.uid}", max_chars=2000)
        st.form_submit_button("Save judgement", on_click=_save, args=(shown,))
    if shown.judgement_error:
        st.warning(shown.judgement_error)
    elif shown.verdict:
        st.success(f"Judgement saved: {VERDICT_LABELS[shown.verdict]}.", icon=":material/check:")


def render_footer(shown: ShownComparison) -> None:
    """The agreement of the two answers, the wall-clock time, and the judgement form."""
    if not shown.cloud_offered:
        why = shown.unavailable or ""
        st.caption(label_markdown(f"ChatGPT was not offered: {why}"))
        if shown.record_error:
            st.caption(shown.record_error)
        return
    comparison = shown.comparison
    agreement, took = st.columns(2)
    if comparison.agreement is not None:
        agreement.metric("Agreement", f"{comparison.agreement:.0%}", help=AGREEMENT_HELP)
    else:
        agreement.caption(NO_AGREEMENT)
    if comparison.wall_s:
        took.metric("Both answers took", f"{comparison.wall_s:.1f} s", help="Wall-clock time.")
    render_judgement(shown)
