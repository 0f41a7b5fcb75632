"""The Quality page: what the ledger says about the two models.

Win rates (overall, over time, by topic) from the Compare page's judgements; groundedness and
latency distributions per model and thumbs from the chat, from the recorded answers, for
everyone; each user's own questions and answers ("Your answers"); CSV export of every
judgement and answer only for a signed-in admin.
``app/views/quality.py`` calls `render_page`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from app import quality_data as data
from app import services
from app.admin.signin import render_sign_in, signed_in
from kbchat.csv_export import to_csv
from kbchat.quality_report import overall, win_rates

logger = logging.getLogger(__name__)

ANSWERS_LIMIT = 5000  # the distributions and the export cover the latest answers
NO_JUDGEMENTS = (
    "No judgements yet: use the Compare page to ask both models the same question and "
    "record which answer was better."
)
NO_ANSWERS = "No answers recorded yet: ask a question on the Chat or the Compare page."
NO_THUMBS = "No thumbs yet: rate answers with the thumbs under them on the Chat page."
UNREADABLE = "The quality ledger cannot be read; the details are logged."
LEGEND = alt.Legend(orient="bottom", labelLimit=400)  # model names are long
ADMIN_ONLY = (
    "The judgements and answers exports hold every user's questions, answers and comments "
    "(answers may repeat confidential documents), so only a signed-in admin can download "
    "them: sign in below or on the Admin page."
)
ADMIN_EXPORTS = (
    "Signed in as admin: these exports hold every user's questions, answers and comments; "
    "keep them inside the company."
)


def _percent(value: float) -> str:
    return f"{value:.0%}"


def _overall(judgements: Sequence[Mapping[str, Any]]) -> None:
    figures = overall(judgements)
    cells = st.columns(5)
    cells[0].metric("Judged", f"{figures['judged']:,}")
    for cell, (verdict, label) in zip(cells[1:], data.VERDICT_SERIES.items(), strict=True):
        cell.metric(label, _percent(float(figures[f"{verdict}_rate"])))


def _over_time(judgements: Sequence[Mapping[str, Any]]) -> None:
    st.subheader("Win rates over time")
    groups = win_rates(judgements, by="day")
    shares = data.verdict_shares(groups)
    chart = (
        alt.Chart(shares)
        .mark_line(point=True)
        .encode(
            x=alt.X("group:O", title="Day", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("share:Q", title="Share of judgements", axis=alt.Axis(format="%")),
            color=alt.Color("verdict:N", title="Verdict", sort=list(data.VERDICT_SERIES.values())),
            tooltip=["group", "verdict", alt.Tooltip("share:Q", format=".0%"), "count"],
        )
    )
    st.altair_chart(chart, width="stretch")


def _by_topic(judgements: Sequence[Mapping[str, Any]]) -> None:
    st.subheader("Win rates by topic")
    st.caption("The topic of a question is the folder of the best passage found for it.")
    groups = win_rates(judgements, by="topic")
    shares = data.verdict_shares(groups)
    chart = (
        alt.Chart(shares)
        .mark_bar()
        .encode(
            y=alt.Y("group:N", title="Topic"),
            x=alt.X("share:Q", title="Share of judgements", axis=alt.Axis(format="%")),
            color=alt.Color("verdict:N", title="Verdict", sort=list(data.VERDICT_SERIES.values())),
            order=alt.Order("verdict:N"),
            tooltip=["group", "verdict", alt.Tooltip("share:Q", format=".0%"), "count"],
        )
    )
    st.altair_chart(chart, width="stretch")
    st.dataframe(data.win_rate_table(groups, "Topic"), hide_index=True)


def _bin_chart(frame: pd.DataFrame, title: str) -> alt.Chart:
    """Grouped bars: answers per bin, one bar per model, bins in their order."""
    order = frame.sort_values("order")["bin"].drop_duplicates().tolist()
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("bin:N", sort=order, title=title, axis=alt.Axis(labelAngle=-30)),
            xOffset=alt.XOffset("model:N"),
            y=alt.Y("answers:Q", title="Answers"),
            color=alt.Color("model:N", title="Model", legend=LEGEND),
            tooltip=["model", "bin", "answers"],
        )
    )


def _distributions(answers: Sequence[Mapping[str, Any]]) -> None:
    st.subheader("Groundedness per model")
    st.caption(
        "Share of an answer's sentences supported by a passage they cite; answers that make "
        "no claim to check are left out."
    )
    grounded = data.groundedness_bins(answers)
    if grounded.empty:
        st.caption("No answer has a groundedness figure yet.")
    else:
        st.altair_chart(_bin_chart(grounded, "Groundedness"), width="stretch")
    st.subheader("Latency per model")
    total, first = st.columns(2)
    for column, field, title in (
        (total, "seconds", "Total time"),
        (first, "ttft_s", "Time to first token"),
    ):
        with column:
            frame = data.latency_bins(answers, field)
            if frame.empty:
                st.caption(f"No {title.lower()} recorded yet.")
            else:
                st.altair_chart(_bin_chart(frame, title), width="stretch")
    daily = data.latency_by_day(answers)
    if not daily.empty:
        chart = (
            alt.Chart(daily)
            .mark_line(point=True)
            .encode(
                x=alt.X("day:O", title="Day", axis=alt.Axis(labelAngle=0)),
                y=alt.Y("seconds:Q", title="Median total time (s)"),
                color=alt.Color("model:N", title="Model", legend=LEGEND),
                tooltip=["day", "model", alt.Tooltip("seconds:Q", format=".2f")],
            )
        )
        st.caption("Median total time per day")
        st.altair_chart(chart, width="stretch")


def _thumbs(answers: Sequence[Mapping[str, Any]]) -> None:
    st.subheader("Thumbs from the chat")
    table = data.thumbs(answers)
    if table.empty:
        st.caption(NO_THUMBS)
    else:
        st.dataframe(table, hide_index=True)


def _download(column: Any, rows: Any, name: str, label: str) -> None:
    column.download_button(
        label,
        data=to_csv(rows),
        file_name=f"kbchat-{name}.csv",
        mime="text/csv",
        key=f"export-{name}",
        on_click="ignore",
        icon=":material/download:",
        disabled=not rows,
    )


def _exports(judgements: Sequence[Mapping[str, Any]], answers: Sequence[Mapping[str, Any]]) -> None:
    """Aggregate figures for everyone; every user's questions, answers and comments (the
    per-row exports) only for a signed-in admin: answers may repeat confidential documents."""
    st.subheader("Export")
    config = services.settings()
    if not (services.user().admin or signed_in(config)):
        left, _right = st.columns(2)
        topics = data.win_rate_table(win_rates(judgements, by="topic"), "Topic")
        rows = topics.to_dict("records") if judgements else []
        _download(left, rows, "win-rates-by-topic", "Win rates by topic (CSV)")
        st.caption(ADMIN_ONLY)
        with st.expander("Admin sign-in", icon=":material/lock:"):
            render_sign_in(config)
        return
    left, right = st.columns(2)
    _download(left, judgements, "judgements", "Judgements (CSV)")
    _download(right, answers, "answers", "Answers (CSV)")
    st.caption(ADMIN_EXPORTS)


YOUR_ANSWERS = "Your latest questions and answers (only you and the admins see them)."
NO_OWN_ANSWERS = "You have not asked anything yet."
OWN_LIMIT = 200


def _own_answers(rows: Sequence[Mapping[str, Any]]) -> None:
    """The signed-in user's own questions and answers, with their rating, and a CSV."""
    st.header("Your answers")
    if not rows:
        st.caption(NO_OWN_ANSWERS)
        return
    st.caption(YOUR_ANSWERS)
    table = pd.DataFrame(
        [
            {
                "When": r["at"],
                "Question": r["question"],
                "Model": data.model_label(r),
                "Answer": r["answer"],
                "Rating": {1: "up", -1: "down"}.get(r["rating"], ""),
            }
            for r in rows
        ]
    )
    st.dataframe(table, hide_index=True)
    _download(st, list(rows), "your-answers", "Your answers (CSV)")


def render_page() -> None:
    """Win rates, distributions, thumbs and exports; plain notes where there is no data yet."""
    st.title("Answer quality")
    try:
        ledger = services.ledger()
        judgements = ledger.judgements()
        answers = ledger.answers(ANSWERS_LIMIT)
        own = ledger.answers(OWN_LIMIT, user=services.user().id)
    except Exception:
        logger.exception("The quality ledger cannot be read")
        st.error(UNREADABLE)
        return
    st.header("Private model or ChatGPT: which answered better")
    if judgements:
        _overall(judgements)
        _over_time(judgements)
        _by_topic(judgements)
    else:
        st.info(NO_JUDGEMENTS, icon=":material/compare_arrows:")
    st.header("Answers")
    if answers:
        st.caption(
            f"From the latest {len(answers):,} recorded answers (at most {ANSWERS_LIMIT:,})."
        )
        _distributions(answers)
        _thumbs(answers)
    else:
        st.info(NO_ANSWERS, icon=":material/chat:")
    _own_answers(own)
    _exports(judgements, answers)
