"""One answer's figures and evidence, as the compare columns and the chat show them."""

from __future__ import annotations

import streamlit as st

from app.conversation import ChatTurn
from app.evidence import render_evidence
from app.render import label_markdown
from kbchat.answering.service import Answer

NOT_ASKED = "No passage in the documents was relevant enough, so the model was not asked."
EMPTY_ANSWER = "The model wrote no answer. Try asking in other words."
NO_CLAIM = "no claim to check"


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def figure_rows(answer: Answer) -> list[tuple[str, str]]:
    """The figures of an answer as (label, value) pairs of plain text.

    Time to first token and tokens/s are left out when they could not be measured; the cost
    estimate is given for the cloud model only.
    """
    rows: list[tuple[str, str]] = []
    stats = answer.stats
    if stats is not None:
        if stats.ttft_s is not None:
            rows.append(("Time to first token", _seconds(stats.ttft_s)))
        total = _seconds(stats.total_s)
        if stats.queued_s >= 0.05:
            total += f" ({stats.queued_s:.1f} s waiting for the model)"
        rows.append(("Total time", total))
        if stats.tokens_per_s is not None:
            rows.append(("Tokens/s", f"{stats.tokens_per_s:.1f}"))
        approx = "≈ " if stats.tokens_estimated else ""
        rows.append(("Tokens in / out", f"{approx}{stats.tokens_in:,} / {stats.tokens_out:,}"))
    if answer.backend == "cloud":
        cost = "not known" if answer.cost_usd is None else f"${answer.cost_usd:,.6f}"
        rows.append(("Cost estimate (USD)", cost))
    grounded = answer.groundedness
    rows.append(("Groundedness", NO_CLAIM if grounded is None else f"{grounded:.0%}"))
    return rows


def figures_markdown(rows: list[tuple[str, str]]) -> str:
    """Figure rows as a two-column Markdown table (every cell escaped)."""
    lines = ["| Figure | Value |", "| --- | --- |"]
    lines += [f"| {label_markdown(label)} | {label_markdown(value)} |" for label, value in rows]
    return "\n".join(lines)


def render_model_line(answer: Answer) -> None:
    """Which model answered (a stand-in says so; the page shows the notice about it)."""
    if answer.backend == "cloud":
        st.caption(
            label_markdown(
                f"Answered by ChatGPT ({answer.model}), a cloud model outside the company, "
                "from what the policy gate let through."
            )
        )
        return
    stand_in = " (a stand-in for the configured model)" if answer.fallback else ""
    st.caption(label_markdown(f"Answered by {answer.model}, the private model{stand_in}."))


def render_answer_details(answer: Answer, key: str, *, model_line: bool = True) -> None:
    """Under an answer's text: notices, the figures, the cited and given passages.

    Args:
        answer: the answer.
        key: a stable id, unique on the page, for the passages' widgets.
        model_line: say which model answered (a compare column names it in its title).
    """
    if not answer.answered_by_model:
        st.caption(NOT_ASKED)
    elif not answer.text.strip():
        st.warning(EMPTY_ANSWER)
    if answer.answered_by_model:
        if model_line:
            render_model_line(answer)
        st.markdown(figures_markdown(figure_rows(answer)))
    render_evidence(ChatTurn("", answer=answer, uid=key))
