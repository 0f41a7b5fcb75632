"""The Chat page: ask about the documents, see the evidence, rate answers.

Each question goes to the private model (the default), to ChatGPT (when an admin allows it),
or to both side by side. ``app/views/chat.py`` calls `render_page`; the parts live here and in
`app.chat_answers` so that they can be imported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import streamlit as st

from app import conversation, services
from app.answer_view import EMPTY_ANSWER, NOT_ASKED, render_answer_details
from app.chat_answers import answer_both, answer_cloud, answer_private
from app.conversation import ChatTurn, Choice
from app.evidence import render_evidence, render_feedback, render_timing
from app.gate_view import render_gate
from app.render import answer_markdown, label_markdown
from app.side_by_side import render_comparison
from kbchat.answering.service import Retrieval, Turn
from kbchat.errors import KbchatError
from kbchat.settings import Settings

logger = logging.getLogger(__name__)

UNEXPECTED = "Something went wrong while answering. Please try again; the details are logged."
INTERRUPTED = "The answer was interrupted before it was complete."
CHOICES: dict[Choice, str] = {"private": "Private", "cloud": "ChatGPT", "both": "Both side by side"}
CHOICE_HELP = (
    "Private: the company's own model; nothing leaves the company. ChatGPT: the cloud model, "
    "sent only what the policy gate allows (confidential passages withheld, personal data "
    "redacted). Both: the two answers side by side, as on the Compare page."
)
CLOUD_NOTE = (
    "ChatGPT is a cloud model outside the company: it gets the question and the passages the "
    "policy gate allows (confidential ones withheld, personal data redacted), and every "
    "request is written to the audit log."
)
Answering = Callable[[ChatTurn, Retrieval, Sequence[Turn], Settings], None]
ANSWERING: dict[Choice, Answering] = {
    "private": answer_private,
    "cloud": answer_cloud,
    "both": answer_both,
}


def _model_notice() -> str | None:
    """Show which model answers (and the fallback warning); returns its name, if known."""
    try:
        model = services.describe_model()
    except KbchatError as err:
        st.error(label_markdown(str(err)))
        return None
    except Exception:
        logger.exception("The private model cannot be described")
        st.error("The private model cannot be set up; the details are logged.")
        return None
    where = f"the company model server at {model.server}" if model.server else "this server"
    st.info(
        f"Answers come from {label_markdown(model.name)}, a private model on "
        f"{label_markdown(where)}: questions and documents stay inside the company.",
        icon=":material/lock:",
    )
    if model.fallback and model.notice:
        st.warning(answer_markdown(model.notice), icon=":material/warning:")
    return model.name


def _render_turn(turn: ChatTurn) -> None:
    """A past turn: the question, then the answer (or error) with its evidence."""
    with st.chat_message("user"):
        st.markdown(answer_markdown(turn.question))
    with st.chat_message("assistant"):
        if turn.comparison is not None:
            render_comparison(turn.comparison)
            return
        if turn.choice == "cloud":
            render_gate(turn.decision)
        if turn.error is not None:
            _render_error(turn)
        elif turn.answer is not None:
            st.markdown(answer_markdown(turn.answer.text))
        _render_details(turn)


def _render_error(turn: ChatTurn) -> None:
    """The turn's error, escaped: it may quote a model server (private or ChatGPT's)."""
    if turn.error is not None:
        st.error(label_markdown(turn.error))


def _render_details(turn: ChatTurn) -> None:
    if turn.refused is not None:
        st.warning(label_markdown(f"ChatGPT was not asked: {turn.refused}"), icon=":material/lock:")
    answer = turn.answer
    if answer is None:
        return
    if answer.backend == "cloud":  # ChatGPT: the model, timing and cost, then the passages
        render_answer_details(answer, turn.uid)
        render_feedback(turn)
        return
    if not answer.answered_by_model:
        st.caption(NOT_ASKED)
    elif not answer.text.strip():
        st.warning(EMPTY_ANSWER)
    if answer.answered_by_model:
        stand_in = " (a stand-in: see the notice at the top)" if answer.fallback else ""
        st.caption(label_markdown(f"Answered by {answer.model}{stand_in}."))
    render_evidence(turn)
    render_timing(turn)
    render_feedback(turn)


def _answer(turn: ChatTurn, earlier: list[Turn], config: Settings) -> None:
    """Retrieve once for the signed-in user (only what they may read), then stream the chosen
    model's answer (or both) into the page, through the answering service."""
    with st.spinner("Searching the documents…"):
        retrieval = services.assistant(config).retrieve(
            turn.question, earlier, user=services.user()
        )
    turn.retrieval_s = retrieval.seconds
    ANSWERING[turn.choice](turn, retrieval, earlier, config)


def _ask(question: str, choice: Choice, config: Settings) -> None:
    """Answer a new question below the conversation, then keep it in the conversation."""
    turns = conversation.turns()
    earlier = conversation.history(turns, config)
    turn = ChatTurn(question, choice=choice)
    turns.append(turn)
    with st.chat_message("user"):
        st.markdown(answer_markdown(question))
    with st.chat_message("assistant"):
        try:
            _answer(turn, earlier, config)
        except KbchatError as err:
            turn.error = str(err)
        except Exception:
            logger.exception("Answering a question failed")
            turn.error = UNEXPECTED
        finally:
            outcomes = (turn.answer, turn.error, turn.refused, turn.comparison)
            if all(outcome is None for outcome in outcomes):
                turn.error = INTERRUPTED  # a rerun (e.g. a new question) stopped it
        if turn.comparison is not None:
            if turn.error is not None:  # the comparison shows its own outcome otherwise
                _render_error(turn)
            return
        _render_error(turn)
        _render_details(turn)


def _choice(config: Settings) -> Choice:
    """Which model answers the next question; ChatGPT only when it is available."""
    unavailable = services.cloud_unavailable(config)
    if unavailable:
        st.radio(
            "Answer with",
            list(CHOICES),
            format_func=CHOICES.__getitem__,
            horizontal=True,
            disabled=True,
            key="chat-choice-unavailable",
            help=CHOICE_HELP,
        )
        st.caption(label_markdown(f"ChatGPT is not available: {unavailable}"))
        return "private"
    chosen: Choice = st.radio(
        "Answer with",
        list(CHOICES),
        format_func=CHOICES.__getitem__,
        horizontal=True,
        key="chat-choice",
        help=CHOICE_HELP,
    )
    if chosen != "private":
        st.caption(CLOUD_NOTE)
    return chosen


def render_page() -> None:
    """The page: model notice, conversation so far, chat input; a new question is answered."""
    st.title("Ask the company documents")
    _model_notice()
    st.button("Clear conversation", on_click=conversation.clear, icon=":material/delete_sweep:")
    for past in conversation.turns():
        _render_turn(past)
    new_turn = st.container()  # a new question goes here, above the choice of model
    config = services.settings()
    choice = _choice(config)
    if prompt := st.chat_input("Ask a question about the company's documents"):
        with new_turn:
            _ask(prompt, choice, config)
