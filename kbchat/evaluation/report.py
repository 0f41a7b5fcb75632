"""A run as text: the summary table for a terminal, and a report in Markdown or HTML.

What is shown (the figures, the worst questions) comes from `kbchat.evaluation.findings`.
Reports put each model in its own column, side by side, with the retrieval figures once
above them; then the worst questions, each with why it is listed and the answers' opening
words; then every question. Questions and answers are untrusted text: the HTML report
escapes all of it, the Markdown report escapes what Markdown would turn into HTML, links or
table cells.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from kbchat.errors import KbchatError
from kbchat.evaluation.findings import WORST, model_table, retrieval_table, worst_questions
from kbchat.evaluation.metrics import ModelAnswer
from kbchat.evaluation.runner import EvalRow, EvalRun

EXCERPT = 240  # characters of an answer shown under "worst questions"
REPORT_FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


def _sources(sources: Sequence[str]) -> str:
    """Retrieved sources, best first, each once with its number of passages."""
    counts = Counter(sources)
    return ", ".join(f"{s} ({counts[s]})" if counts[s] > 1 else s for s in counts) or "nothing"


def _excerpt(text: str, width: int = EXCERPT) -> str:
    return textwrap.shorten(" ".join(text.split()), width, placeholder=" …") if text else ""


def _short_cell(answer: ModelAnswer) -> str:
    parts: list[str] = [answer.outcome.replace("_", " ")]
    if answer.key_phrases_ok is not None:
        total = len(answer.phrases_matched) + len(answer.phrases_missing)
        parts.append(f"phrases {len(answer.phrases_matched)}/{total}")
    if answer.groundedness is not None:
        parts.append(f"grounded {answer.groundedness:.0%}")
    if answer.citation_precision is not None:
        parts.append(f"citations {answer.citation_precision:.0%} gold")
    if answer.seconds is not None:
        parts.append(f"{answer.seconds:.1f} s")
    return ", ".join(parts)


def _answer_text(answer: ModelAnswer) -> str:
    if answer.error is not None:
        return f"(failed) {answer.error}"
    if answer.not_asked is not None:
        return f"(not asked) {answer.not_asked}"
    return answer.text or "(empty)"


def _gold_cell(row: EvalRow) -> str:
    if row.question.unanswerable:
        return "unanswerable"
    if not row.question.gold_files:
        return "-"
    return "miss" if row.first_gold_rank is None else f"rank {row.first_gold_rank}"


def _title(run: EvalRun) -> str:
    return f"kbchat evaluation: {run.eval_set}" if run.eval_set else "kbchat evaluation"


def _run_line(run: EvalRun) -> str:
    models = ", ".join(f"{m} ({run.model_names[m]})" for m in run.models) or "retrieval only"
    done = f"{len(run.rows)} questions"
    if run.interrupted:
        done = f"interrupted after {len(run.rows)} of {run.planned} questions"
    return f"{run.started_at}, {done}, k = {run.k}, models: {models}, {run.seconds:.1f} s in all"


# --- plain text ------------------------------------------------------------------------------


def _text_table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def render_text(run: EvalRun) -> str:
    """The summary for a terminal: retrieval, then the models side by side."""
    lines = [_title(run), _run_line(run), ""]
    lines += _text_table([list(r) for r in retrieval_table(run)])
    if run.models:
        header, rows = model_table(run)
        lines += ["", *_text_table([header, *rows])]
    if run.notice:
        lines += ["", f"Note: {run.notice}"]
    return "\n".join(lines)


# --- Markdown --------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`|<>])")


def md(text: str) -> str:
    """Text safe inside a Markdown table cell or paragraph: no HTML, links, or cell breaks."""
    text = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return text.replace("](", r"\](").replace("![", r"!\[")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(md(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(run: EvalRun, worst: int = WORST) -> str:
    """The report as Markdown (readable as plain text in a terminal too)."""
    lines = [f"# {md(_title(run))}", "", md(_run_line(run)), ""]
    if run.notice:
        lines += [f"> Note: {md(run.notice)}", ""]
    lines += ["## Retrieval", "", *_md_table(["", "value"], retrieval_table(run)), ""]
    if run.models:
        header, rows = model_table(run)
        lines += ["## Answers", "", *_md_table(header, rows), ""]
    lines += ["## Worst questions", ""]
    listed = worst_questions(run, worst)
    if not listed:
        lines += ["None: every question went well.", ""]
    for item in listed:
        row = item.row
        lines.append(f"### {row.number}. {md(row.question.question)}")
        lines.append("")
        for reason in item.reasons:
            lines.append(f"- {md(reason)}")
        lines.append(f"- gold: {md(', '.join(row.question.gold_files) or 'none (unanswerable)')}")
        lines.append(f"- retrieved: {md(_sources(row.retrieved))}")
        for label, answer in row.answers.items():
            lines.append(f"- {md(label)} answer: {md(_excerpt(_answer_text(answer)))}")
        lines.append("")
    lines += ["## Every question", ""]
    header = ["#", "question", "gold", *run.models]
    table = [
        [
            str(row.number),
            _excerpt(row.question.question, 90),
            _gold_cell(row),
            *(_short_cell(row.answers[m]) for m in run.models),
        ]
        for row in run.rows
    ]
    lines += [*_md_table(header, table), ""]
    return "\n".join(lines)


# --- HTML ------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1d2433;line-height:1.45}
h1{font-size:1.5rem}h2{margin-top:2rem;border-bottom:1px solid #d6dae3;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #d6dae3;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f2f4f8}td.num{white-space:nowrap}
.reasons{color:#9b1c1c}.muted{color:#5b6475}
blockquote{margin:.3rem 0 .6rem;padding:.3rem .8rem;border-left:3px solid #c4c9d4;
background:#fafbfc;white-space:pre-wrap}
details summary{cursor:pointer}
table.answers{width:100%;table-layout:fixed}td.answer{white-space:pre-wrap;background:#fafbfc}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(run: EvalRun, worst: int = WORST) -> str:
    """The report as one self-contained HTML page (no scripts, no external files)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(_title(run))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(_title(run))}</h1>",
        f'<p class="muted">{_e(_run_line(run))}</p>',
    ]
    if run.notice:
        parts.append(f"<p><strong>Note:</strong> {_e(run.notice)}</p>")
    parts += ["<h2>Retrieval</h2>", _html_table(["", "value"], retrieval_table(run))]
    if run.models:
        header, rows = model_table(run)
        parts += ["<h2>Answers</h2>", _html_table(header, rows)]
    parts.append("<h2>Worst questions</h2>")
    listed = worst_questions(run, worst)
    if not listed:
        parts.append("<p>None: every question went well.</p>")
    for item in listed:
        row = item.row
        parts.append(f"<h3>{row.number}. {_e(row.question.question)}</h3>")
        parts.append(
            '<ul class="reasons">' + "".join(f"<li>{_e(r)}</li>" for r in item.reasons) + "</ul>"
        )
        gold = ", ".join(row.question.gold_files) or "none (unanswerable)"
        parts.append(
            f'<p class="muted">gold: {_e(gold)}<br>retrieved: {_e(_sources(row.retrieved))}</p>'
        )
        if row.answers:  # the answers side by side
            labels = "".join(f"<th>{_e(label)}</th>" for label in row.answers)
            excerpts = "".join(
                f'<td class="answer">{_e(_excerpt(_answer_text(a)))}</td>'
                for a in row.answers.values()
            )
            parts.append(f'<table class="answers"><tr>{labels}</tr><tr>{excerpts}</tr></table>')
    parts.append("<h2>Every question</h2>")
    head = "".join(f"<th>{_e(h)}</th>" for h in ["#", "question", "gold", *run.models])
    body = []
    for row in run.rows:
        cells = [
            f'<td class="num">{row.number}</td>',
            f"<td>{_e(row.question.question)}</td>",
            f'<td class="num">{_e(_gold_cell(row))}</td>',
        ]
        for m in run.models:
            answer = row.answers[m]
            cells.append(
                f"<td><details><summary>{_e(_short_cell(answer))}</summary>"
                f"<blockquote>{_e(_answer_text(answer))}</blockquote></details></td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def report_format(path: Path) -> str:
    """``markdown`` or ``html`` from a report path's extension.

    Raises:
        KbchatError: any other extension.
    """
    fmt = REPORT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise KbchatError(
            f"Cannot tell the report format from {path.name!r}: name it .md (Markdown) or "
            ".html (a web page)."
        )
    return fmt


def write_report(run: EvalRun, path: Path) -> None:
    """Write the report, Markdown or HTML by the path's extension.

    Raises:
        KbchatError: the extension is not .md/.html, or the file cannot be written.
    """
    fmt = report_format(path)
    text = render_markdown(run) if fmt == "markdown" else render_html(run)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise KbchatError(f"Cannot write the report {path}: {err.strerror}") from err
