"""The Verdict page: can the private model replace ChatGPT, per topic, with what confidence.

The verdict per topic first, then the intervals as a chart, the judge's agreement with
people, cost and speed. Figures come from `kbchat.verdict.figures`; the judge runs through
`kbchat.judging`. ``app/views/verdict.py`` calls `render_page`.
"""

from __future__ import annotations

import logging

import altair as alt
import streamlit as st

from app import services
from app import verdict_data as data
from kbchat.audit import audit_for
from kbchat.errors import KbchatError
from kbchat.judging import Judging, judge_unavailable
from kbchat.verdict.figures import VerdictReport, verdict_report
from kbchat.verdict.report import (
    TITLE,
    cost_lines,
    narrowing_sentence,
    rests_on,
    verdict_sentence,
)

logger = logging.getLogger(__name__)
UNREADABLE = "The quality ledger cannot be read; the details are logged."
NO_COMPARISONS = (
    "No comparisons yet: ask both models on the Compare page and record which answer was "
    "better; the judge can then rate the rest (`kbchat judge`, or the button below)."
)
JUDGE_BATCH = 20  # comparisons judged per click (each takes two judge calls)
NOT_PROVEN = (
    "The verdict covers the questions people asked and compared, on the documents as they "
    "are; other questions or a changed corpus may differ. The judge is a model and can be "
    "wrong in ways people are not: its agreement with people is shown above. The combined "
    "estimate (prediction-powered inference) is valid only if the comparisons people rated "
    "are typical of all of them. A 95% interval misses the truth one time in twenty."
)
_ALERT = {"replaceable": st.success, "not_replaceable": st.error}


def _verdicts(report: VerdictReport) -> None:
    overall = report.overall
    alert = _ALERT.get(overall.estimate.decision, st.warning)
    alert(verdict_sentence(overall, report.margin))
    narrowing = narrowing_sentence(overall)
    if narrowing:
        st.caption(narrowing)
    st.subheader("Per topic")
    st.caption(
        "A topic is the folder of the best passage found for a question. Wins, ties and "
        "losses are the private model's; a tie includes both answers wrong."
    )
    st.dataframe(data.verdict_table(report), hide_index=True)
    for name, verdict in sorted(report.topics.items()):
        st.markdown(f"**{name}**: {verdict_sentence(verdict, report.margin)}")


def _chart(report: VerdictReport) -> None:
    st.subheader("Intervals")
    st.caption(
        f"Share of comparisons in which the private answer was at least as good, with its "
        f"95% interval; the dashed line is the bar ({report.threshold:.0%})."
    )
    frame = data.intervals(report)
    base = alt.Chart(frame).encode(
        y=alt.Y("group:N", title=None, sort=[name for name, _ in data.groups(report)]),
        yOffset=alt.YOffset("estimate:N"),
        color=alt.Color("estimate:N", title="Estimate", legend=alt.Legend(orient="bottom")),
        tooltip=[
            "group",
            "estimate",
            alt.Tooltip("rate:Q", format=".0%"),
            alt.Tooltip("low:Q", format=".0%"),
            alt.Tooltip("high:Q", format=".0%"),
            "judgements",
        ],
    )
    scale = alt.Scale(domain=[0, 1])
    bars = base.mark_rule(strokeWidth=4).encode(
        x=alt.X("low:Q", title="At least as good", axis=alt.Axis(format="%"), scale=scale),
        x2="high:Q",
    )
    points = base.mark_point(filled=True, size=80).encode(x=alt.X("rate:Q", scale=scale))
    bar = (
        alt.Chart(alt.Data(values=[{"bar": report.threshold}]))
        .mark_rule(strokeDash=[4, 3], color="gray")
        .encode(x="bar:Q")
    )
    st.altair_chart(bars + points + bar, width="stretch")


def _agreement(report: VerdictReport) -> None:
    st.subheader("The judge and people")
    a = report.agreement
    cells = st.columns(3)
    cells[0].metric("Rated by both", f"{a['both_rated']:,}")
    cells[1].metric("Agreement", "n/a" if a["agreement"] is None else f"{a['agreement']:.0%}")
    cells[2].metric("Cohen's kappa", "n/a" if a["kappa"] is None else f"{a['kappa']:.2f}")
    st.caption(
        f"Judge: {report.judge_model}. Kappa is agreement beyond chance: 0 is chance, 1 "
        "perfect; below about 0.4 the judge's verdicts alone should not be trusted."
    )


def _cost_and_speed(report: VerdictReport) -> None:
    st.subheader("Cost")
    c = report.cost
    cells = st.columns(3)
    per_answer = c["per_answer_usd"]
    per_month = c["per_month_usd"]
    cells[0].metric("ChatGPT per answer", "n/a" if per_answer is None else f"${per_answer:.4f}")
    cells[1].metric("ChatGPT per month", "n/a" if per_month is None else f"${per_month:,.2f}")
    cells[2].metric("Questions a day", "n/a" if c["questions_per_day"] is None else
                    f"{c['questions_per_day']:g}")  # fmt: skip
    st.caption(" ".join(cost_lines(report)))
    st.subheader("Speed")
    st.dataframe(data.latency_table(report), hide_index=True)


def _judge_button() -> None:
    config = services.settings()
    unavailable = judge_unavailable(config)
    if unavailable:
        st.caption(f"The judge cannot run: {unavailable}")
        return
    if st.button(f"Judge up to {JUDGE_BATCH} comparisons not judged yet", key="judge-now"):
        with st.spinner("The judge is reading the comparisons…"):
            try:
                run = Judging(config, ledger=services.ledger()).run(limit=JUDGE_BATCH)
            except KbchatError as err:
                st.error(str(err))
                return
        counts = run.counts()
        st.toast(
            f"{counts['judged']} judged, {counts['unparseable']} unparseable, "
            f"{counts['skipped']} skipped, {counts['failed']} failed."
        )
        for item in run.items:
            if item.status in ("failed", "skipped"):
                st.caption(f"Comparison {item.comparison_id}: {item.reason}")


def render_page() -> None:
    """The verdict, the intervals, agreement, cost and speed; a plain note without data."""
    st.title(TITLE)
    _judge_button()  # before the figures, so that a click's verdicts count in them at once
    try:
        config = services.settings()
        report = verdict_report(config, services.ledger(), audit_for(config))
    except Exception:
        logger.exception("The verdict cannot be computed")
        st.error(UNREADABLE)
        return
    st.caption(
        f"Margin {report.margin:.0%}: the private model is replaceable when, with 95% "
        f"confidence, ChatGPT's answer is better in at most {report.margin:.0%} of questions "
        f"(KBCHAT_VERDICT_MARGIN). Overall: {rests_on(report.overall)}."
    )
    if not report.rated:
        st.info(NO_COMPARISONS, icon=":material/balance:")
    else:
        _verdicts(report)
        _chart(report)
        _agreement(report)
    _cost_and_speed(report)
    with st.expander("What this does not prove"):
        st.markdown(NOT_PROVEN)
