"""The verdict as words, as terminal text, and as one self-contained HTML page.

The page embeds everything (styles, an SVG chart of the intervals): it opens from a file or
an e-mail attachment with no network. Topic names come from document folders and are escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from kbchat.errors import KbchatError
from kbchat.verdict.figures import GroupVerdict, VerdictReport

VERDICT_WORDS = {
    "replaceable": "Replaceable",
    "not_replaceable": "Not replaceable",
    "not_enough_evidence": "Not enough evidence",
}
TITLE = "Can the private model replace ChatGPT?"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def rests_on(verdict: GroupVerdict) -> str:
    """How many judgements a figure rests on, in words."""
    return (
        f"{verdict.judgements} judgement{'s' * (verdict.judgements != 1)} "
        f"({verdict.human} by people, {verdict.judge} by the judge)"
    )


def method_words(verdict: GroupVerdict) -> str:
    """How the interval was computed."""
    if verdict.estimate.method == "ppi":
        return "prediction-powered inference (judge verdicts corrected by the human ones)"
    return "Wilson score interval"


def verdict_sentence(verdict: GroupVerdict, margin: float) -> str:
    """One sentence: the decision, what it means, and what it rests on."""
    e = verdict.estimate
    bar = f"{1 - margin:.0%}"
    worse = f"{margin:.0%}"
    if e.decision == "replaceable":
        what = (
            f"with 95% confidence ChatGPT's answer is better in at most {worse} of questions "
            f"(the private answer is at least as good in {_pct(e.ci_low)} or more)"
        )
    elif e.decision == "not_replaceable":
        what = (
            f"with 95% confidence the private answer is at least as good in under {bar} of "
            f"questions (at most {_pct(e.ci_high)})"
        )
    else:
        what = (
            f"the interval {_pct(e.ci_low)}–{_pct(e.ci_high)} still straddles {bar}: about "
            f"{e.more_needed:,} more judgements would decide it"
        )
    return f"{VERDICT_WORDS[e.decision]}: {what}. From {rests_on(verdict)}."


def narrowing_sentence(verdict: GroupVerdict) -> str | None:
    """How much the judge narrowed the interval compared with human verdicts alone."""
    if verdict.human_only is None:
        return None
    low, high = verdict.human_only
    alone = f"People alone: {_pct(verdict.human_rate)} ({_pct(low)}–{_pct(high)}, {verdict.human})"
    if verdict.estimate.method != "ppi":
        return alone + "."
    e = verdict.estimate
    return (
        f"{alone}; with the judge: {_pct(e.rate)} ({_pct(e.ci_low)}–{_pct(e.ci_high)}): the "
        f"interval is {(e.ci_high - e.ci_low) / (high - low):.0%} as wide."
    )


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _secs(figures: dict[str, float | None]) -> str:
    p50, p95 = figures.get("p50"), figures.get("p95")
    return "n/a" if p50 is None or p95 is None else f"{p50:.2f} s / {p95:.2f} s"


def cost_lines(report: VerdictReport) -> list[str]:
    """Cost figures as sentences."""
    c = report.cost
    lines = [
        f"ChatGPT costs {_money(c['per_answer_usd'])} per answer (from {c['cloud_answers']} "
        "answers).",
    ]
    if c["per_month_usd"] is not None:
        lines.append(
            f"At the observed volume ({c['questions_per_day']} questions a day over "
            f"{c['days']} days) that is about {_money(c['per_month_usd'])} a month; the "
            "private model costs no fees per answer."
        )
    if c["judge_calls"]:
        lines.append(f"The judge's {c['judge_calls']} calls cost {_money(c['judge_usd'])}.")
    return lines


def latency_rows(report: VerdictReport) -> list[list[str]]:
    """Model, answers, time to first token p50/p95, total time p50/p95."""
    names = {"private": "Private model", "cloud": "ChatGPT"}
    return [
        [names[m], str(f["answers"]), _secs(f["ttft_s"]), _secs(f["seconds"])]
        for m, f in report.latency.items()
    ]


def _groups(report: VerdictReport) -> list[tuple[str, GroupVerdict]]:
    return [("All topics", report.overall), *sorted(report.topics.items())]


def render_text(report: VerdictReport) -> str:
    """The report for a terminal."""
    lines = [TITLE, f"Margin {report.margin:.0%}; judge {report.judge_model}.", ""]
    for name, verdict in _groups(report):
        lines.append(f"{name}: {verdict_sentence(verdict, report.margin)}")
        narrowing = narrowing_sentence(verdict)
        if narrowing:
            lines.append(f"    {narrowing}")
    a = report.agreement
    lines += ["", f"Judge and people rated {a['both_rated']} comparisons alike: "]
    lines[-1] += (
        f"agreement {_pct(a['agreement'])}, Cohen's kappa "
        f"{'n/a' if a['kappa'] is None else format(a['kappa'], '.2f')}."
    )
    lines += ["", *cost_lines(report), "", "Time to first token / total (p50 / p95):"]
    for name, answers, ttft, total in latency_rows(report):
        lines.append(f"  {name:<14} {answers:>5} answers   {ttft:<18} {total}")
    return "\n".join(lines)


def _e(text: object) -> str:
    return html.escape(str(text))


def interval_svg(groups: Sequence[tuple[str, GroupVerdict]], bar: float) -> str:
    """Each group's win-or-tie rate and 95% interval on a 0–100% axis, the bar as a line."""
    width, left, right, row = 720, 190, 20, 30
    height = row * len(groups) + 40
    span = width - left - right

    def x(value: float) -> float:
        return left + span * value

    colours = {"replaceable": "#1a7f37", "not_replaceable": "#cf222e"}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="Win-or-tie rate with 95% intervals">',
        f'<line x1="{x(bar):.1f}" y1="10" x2="{x(bar):.1f}" y2="{height - 25}" '
        'stroke="#555" stroke-dasharray="4 3"/>',
        f'<text x="{x(bar):.1f}" y="{height - 8}" font-size="11" text-anchor="middle">'
        f"bar {bar:.0%}</text>",
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{height - 8}" font-size="10" fill="#777" '
            f'text-anchor="middle">{tick:.0%}</text>'
        )
    for i, (name, verdict) in enumerate(groups):
        y = 20 + i * row
        e = verdict.estimate
        colour = colours.get(e.decision, "#9a6700")
        parts.append(
            f'<text x="{left - 8}" y="{y + 4}" font-size="12" text-anchor="end">'
            f"{_e(name)} (n={verdict.judgements})</text>"
        )
        parts.append(
            f'<line x1="{x(e.ci_low):.1f}" y1="{y}" x2="{x(e.ci_high):.1f}" y2="{y}" '
            f'stroke="{colour}" stroke-width="4"/>'
        )
        if e.rate is not None:
            parts.append(f'<circle cx="{x(e.rate):.1f}" cy="{y}" r="5" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#1f2328}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid "
    "#d0d7de;padding:.3rem .6rem;text-align:left}th{background:#f6f8fa}.replaceable{color:"
    "#1a7f37}.not_replaceable{color:#cf222e}.not_enough_evidence{color:#9a6700}small{color:#57606a}"
)


def render_html(report: VerdictReport) -> str:
    """The whole report as one self-contained HTML page."""
    at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    groups = _groups(report)
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td class='{v.estimate.decision}'><b>"
        f"{VERDICT_WORDS[v.estimate.decision]}</b></td><td>{_pct(v.estimate.rate)}</td>"
        f"<td>{_pct(v.estimate.ci_low)}–{_pct(v.estimate.ci_high)}</td>"
        f"<td>{v.counts.wins} / {v.counts.ties} / {v.counts.losses}</td>"
        f"<td>{v.judgements} ({v.human} people, {v.judge} judge)</td>"
        f"<td>{'' if v.estimate.more_needed is None else f'{v.estimate.more_needed:,}'}</td></tr>"
        for name, v in groups
    )
    sentences = "".join(
        f"<li><b>{_e(name)}</b>: {_e(verdict_sentence(v, report.margin))}"
        + (f"<br><small>{_e(narrowing_sentence(v))}</small>" if narrowing_sentence(v) else "")
        + "</li>"
        for name, v in groups
    )
    a = report.agreement
    kappa = "n/a" if a["kappa"] is None else f"{a['kappa']:.2f}"
    latency = "".join(
        "<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>"
        for row in latency_rows(report)
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(TITLE)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(TITLE)}</h1><p><small>{_e(at)} · margin {report.margin:.0%} (the private "
        f"answer must be at least as good in {1 - report.margin:.0%} of questions) · judge "
        f"{_e(report.judge_model)}</small></p>"
        "<h2>Verdict per topic</h2><table><tr><th>Topic</th><th>Verdict</th>"
        "<th>At least as good</th><th>95% interval</th><th>Wins / ties / losses</th>"
        "<th>Judgements</th><th>More needed</th></tr>"
        f"{rows}</table><ul>{sentences}</ul>"
        "<h2>Intervals</h2>"
        f"{interval_svg(groups, report.threshold)}"
        "<h2>Judge and people</h2>"
        f"<p>On the {a['both_rated']} comparisons rated by both: agreement "
        f"{_pct(a['agreement'])}, Cohen's kappa {kappa}.</p>"
        "<h2>Cost</h2><ul>"
        + "".join(f"<li>{_e(line)}</li>" for line in cost_lines(report))
        + "</ul><h2>Speed</h2><table><tr><th>Model</th><th>Answers</th>"
        "<th>Time to first token p50 / p95</th><th>Total p50 / p95</th></tr>"
        f"{latency}</table>"
        "<p><small>What this does not prove: the verdict covers the questions people asked "
        "and compared, on today's documents; the judge is a model and can be wrong in ways "
        "people are not; the combined estimate assumes the comparisons people rated are "
        "typical of all of them.</small></p></body></html>"
    )


def write_html(report: VerdictReport, path: Path) -> None:
    """Write the page.

    Raises:
        KbchatError: the file cannot be written (the message names it).
    """
    try:
        path.write_text(render_html(report), encoding="utf-8")
    except OSError as err:
        raise KbchatError(f"Cannot write the report to {path}: {err.strerror or err}") from err
