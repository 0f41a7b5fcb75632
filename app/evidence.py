"""Under an answer: the passages it cites, the passages the model was given, timing, thumbs."""

from __future__ import annotations

import logging
import mimetypes
import sqlite3
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from app import services
from app.conversation import ChatTurn
from app.render import label_markdown, timing_text
from ingest.corpus_paths import inside_corpus
from kbchat.answering.citations import location
from kbchat.answering.prompt import Passage

logger = logging.getLogger(__name__)

NOT_CITED = "The model did not cite a passage."
GIVEN_NOT_CITED = "Passages the model was given but did not cite:"
GIVEN_NONE_CITED = (
    "Passages the model was given (check the answer against them before relying on it):"
)
LEFT_OUT = "Also found, but left out of the prompt (no sentence came close to the question):"


def source_file(source: str) -> Path | None:
    """The corpus file a passage came from, if it is still there, inside the corpus folder,
    and the signed-in user may read it now (its access may have changed since the answer)."""
    if not source or not services.may_read(source):
        return None
    path = inside_corpus(services.settings().paths.corpus_dir, source)
    return path if path is not None and path.is_file() else None


def _reader(path: Path) -> Callable[[], bytes]:
    return path.read_bytes  # read when the button is clicked, not on every rerun


def render_passage(passage: Passage, key: str) -> None:
    """One passage in an expander labelled ``[n] source › section (page p)``.

    The passage text is shown as plain text (``st.text``): never Markdown or HTML.
    """
    label = label_markdown(
        f"[{passage.n}] {location(passage.source, passage.section, passage.page)}"
    )
    with st.expander(label):
        facts = [f"Source: {passage.source or 'unknown'}"]
        facts.append(f"Section: {passage.section or 'none'}")
        if passage.page is not None:
            facts.append(f"Page: {passage.page}")
        facts.append(f"Label: {services.label_in_force(passage.source)}")
        st.caption(label_markdown(" · ".join(facts)))
        st.text(passage.hit.text)
        path = source_file(passage.source)
        if path is None:
            st.caption("The source file is no longer in the document folder.")
            return
        st.download_button(
            label_markdown(f"Download {path.name}"),
            data=_reader(path),
            file_name=path.name,
            mime=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            key=f"download-{key}-{passage.n}",
            on_click="ignore",
            icon=":material/download:",
        )


def render_evidence(turn: ChatTurn) -> None:
    """The passages an answer cites, then the other passages the model was given, then those
    found but left out of its prompt by context compression."""
    answer = turn.answer
    if answer is None or not answer.answered_by_model:
        return
    by_number = {p.n: p for p in answer.passages}
    cited = [by_number[c.n] for c in answer.citations if c.n in by_number]
    uncited = [p for p in answer.passages if p.n not in {c.n for c in cited}]
    others = [p for p in uncited if not p.left_out]
    left_out = [p for p in uncited if p.left_out]
    if cited:
        st.caption("Sources the answer cites:")
        for passage in cited:
            render_passage(passage, turn.uid)
    else:
        st.caption(NOT_CITED)
    if others:
        st.caption(GIVEN_NOT_CITED if cited else GIVEN_NONE_CITED)
        for passage in others:
            render_passage(passage, turn.uid)
    if left_out:
        st.caption(LEFT_OUT)
        for passage in left_out:
            render_passage(passage, turn.uid)


def render_timing(turn: ChatTurn) -> None:
    """Time to first token, total, tokens/s, retrieval; passages left out, if any."""
    answer = turn.answer
    if answer is None:
        return
    line = timing_text(answer.stats, turn.retrieval_s, answer.dropped_passages)
    if line:
        st.caption(label_markdown(line))


def _record_feedback(answer_id: int, key: str) -> None:
    value = st.session_state.get(key)
    if value is None:
        return  # un-selecting keeps the last rating: the ledger has no "no rating"
    try:
        services.ledger().record_feedback(
            answer_id, 1 if value == 1 else -1, user=services.user().id
        )
    except (ValueError, sqlite3.Error):
        logger.exception("Could not store the rating of answer %s", answer_id)
        st.toast("Your rating could not be saved.", icon=":material/error:")


def render_feedback(turn: ChatTurn) -> None:
    """Thumbs up/down, stored in the ledger against the recorded answer."""
    if turn.answer is None or turn.answer_id is None:
        return
    key = f"thumbs-{turn.uid}"
    st.feedback("thumbs", key=key, on_change=_record_feedback, args=(turn.answer_id, key))
