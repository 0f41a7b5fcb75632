"""The eval report: both models side by side, the worst questions, untrusted text escaped."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kbchat.errors import KbchatError
from kbchat.evaluation.report import (
    render_html,
    render_markdown,
    render_text,
    write_report,
)
from kbchat.evaluation.runner import EvalRun
from tests.unit.test_eval_metrics import answer, build_run

pytestmark = pytest.mark.unit

HOSTILE_ANSWER = "<script>alert('pwned')</script> Pensions are provided by Aviva [1]."
HOSTILE_QUESTION = 'Summer party? <img src=x onerror="alert(1)"> | [x](http://evil.example)'


def hostile_run() -> EvalRun:
    run = build_run()
    last = run.rows[5]
    last.question = replace(last.question, question=HOSTILE_QUESTION)
    last.answers["private"] = answer(
        "private", 5, HOSTILE_ANSWER, ttft=1.5, seconds=3.0, tokens=(90, 9)
    )
    return run


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.cells.append(data)


def test_markdown_report_has_both_columns_and_escapes_untrusted_text() -> None:
    text = render_markdown(hostile_run())
    assert "| Recall@5 | 0.750 (3/4) |" in text
    assert "| R@1 | 0.250 (1/4) |" in text
    assert "|  | Private model | Cloud model |" in text
    assert "| Key phrases all found | 50.0% (2/4) | 100.0% (2/2) |" in text
    assert "| Refusal accuracy (unanswerable) | 50.0% (1/2) | 100.0% (2/2) |" in text
    assert "| Citation precision (gold sources) | 75.0% (3/4) | 100.0% (2/2) |" in text
    assert "| Failed | 0 | 1 |" in text and "| Not asked (policy gate) | 0 | 1 |" in text
    worst = text.split("## Worst questions")[1].split("## Every question")[0]
    assert worst.index("### 3.") < worst.index("### 6.") < worst.index("### 1.")
    assert not re.search(r"(?<!\\)<", text), "every < is escaped: no HTML gets through"
    assert r"\<script\>alert('pwned')\</script\>" in text
    assert r"\](http://evil.example)" in text  # no live link
    assert r"\| [x\](http" in text  # a | in a question does not break its table row
    every = text.split("## Every question")[1].strip().splitlines()
    assert len(every) == 2 + 6  # header, rule, one row per question
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 6 for line in every[2:])  # 5 cells


def test_html_report_is_self_contained_and_escapes_untrusted_text() -> None:
    page = render_html(hostile_run())
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert not any(tag in parser.tags for tag in ("link", "iframe", "object"))
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert HOSTILE_ANSWER in "".join(parser.cells)  # shown as text
    assert "<th>Private model</th><th>Cloud model</th>" in page
    assert "<td>Key phrases all found</td><td>50.0% (2/4)</td><td>100.0% (2/2)</td>" in page
    assert page.count("<details>") == 12  # every answer of both models, unfolded on click


def test_text_summary_and_retrieval_only() -> None:
    text = render_text(build_run())
    assert "Private model" in text and "Cloud model" in text and "0.750 (3/4)" in text
    run = build_run()
    retrieval_only = EvalRun(run.eval_set, 5, (), {}, run.rows, run.started_at, 1.0)
    for row in retrieval_only.rows:
        row.answers = {}
    for rendered in (render_text(retrieval_only), render_markdown(retrieval_only)):
        assert "retrieval only" in rendered and "Private model" not in rendered
        assert "0.750 (3/4)" in rendered
    assert "retrieval: no passage from travel/per_diem.csv" in render_html(retrieval_only)


def test_write_report_picks_the_format_by_extension(tmp_path: Path) -> None:
    run = build_run()
    write_report(run, tmp_path / "r.md")
    write_report(run, tmp_path / "r.html")
    assert (tmp_path / "r.md").read_text(encoding="utf-8").startswith("# kbchat evaluation")
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(KbchatError, match=r"\.md .*\.html"):
        write_report(run, tmp_path / "r.txt")
    assert not (tmp_path / "r.txt").exists()
