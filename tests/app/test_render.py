"""`app.render`: model and document text cannot load, link or run anything when shown."""

from __future__ import annotations

import random
import re

import pytest

from app.render import (
    ZWSP,
    AnswerSanitiser,
    answer_markdown,
    label_markdown,
    sanitised_stream,
    timing_text,
    when,
)
from kbchat.llm.base import GenerationStats

pytestmark = pytest.mark.unit
markdown_it = pytest.importorskip("markdown_it")

HOSTILE = [
    "![x](http://evil.example/img.png)",
    "[click](http://evil.example/)",
    "![ref][r]\n\n[r]: http://evil.example/ref.png",
    "note[^1]\n\n[^1]: http://evil.example/note",
    '<img src="http://evil.example/raw.png" onerror="alert(1)">',
    "<script>alert(1)</script>",
    "<http://evil.example/auto>",
    "\\![escaped](http://evil.example/esc.png)",
    "\\\\![double](http://evil.example/dbl.png)",
    "&lt;img src=x&gt; &#91;x&#93;(http://evil.example/entity)",
    ":red[colour] :material/home: $x^2$ $$y$$",
    "`code` ```fence```",
]


def _html(markdown: str) -> str:
    """Rendered by a CommonMark renderer with raw HTML enabled (stricter than Streamlit)."""
    return str(markdown_it.MarkdownIt("commonmark", {"html": True}).render(markdown))


@pytest.mark.parametrize("text", HOSTILE)
def test_answer_markdown_makes_no_image_link_or_html(text: str) -> None:
    html = _html(answer_markdown(text))
    assert "<img" not in html
    assert "<a " not in html
    assert "<script" not in html
    assert "<code" not in html


def test_answer_markdown_keeps_plain_formatting() -> None:
    html = _html(answer_markdown("You get **27 days** of *paid* leave [1].\n\n- one\n- two"))
    assert "<strong>27 days</strong>" in html
    assert "<em>paid</em>" in html
    assert "<li>one</li>" in html
    assert "[1]" in html  # citation markers read as written


def test_answer_markdown_shows_the_text_as_written() -> None:
    text = "Cost: $5 & <10 items> [see 2] `x` C:\\temp"
    rendered = re.sub(r"<[^>]+>", "", _html(answer_markdown(text))).strip()
    unescaped = rendered.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert unescaped == text


def test_bare_urls_and_addresses_are_broken_with_an_invisible_space() -> None:
    text = answer_markdown("see https://evil.example/x, www.evil.example or a@evil.example")
    assert f":{ZWSP}//evil" in text
    assert f"www{ZWSP}." in text
    assert f"@{ZWSP}evil" in text
    assert text.replace(ZWSP, "").replace("\\", "") == (
        "see https://evil.example/x, www.evil.example or a@evil.example"
    )


@pytest.mark.parametrize("seed", range(20))
def test_streamed_deltas_equal_the_whole_answer(seed: int) -> None:
    text = " ".join(HOSTILE) + " https://x.example www.y.example z@w.example"
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(text)), 25))
    deltas = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    assert "".join(sanitised_stream(deltas)) == answer_markdown(text)


def test_closing_the_stream_closes_its_source() -> None:
    closed = []

    def source():
        try:
            yield "a"
            yield "b"
        finally:
            closed.append(True)

    stream = sanitised_stream(source())
    assert next(stream) == "a"
    stream.close()
    assert closed == [True]


def test_label_markdown_escapes_every_punctuation_and_keeps_one_line() -> None:
    label = label_markdown("[1] hr/leave_policy.md › **Annual**\n![x](http://e.example/i.png)")
    assert "\n" not in label
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).renderInline(label)
    assert "<" not in html.replace("&lt;", "")
    assert html.replace(ZWSP, "") == (
        "[1] hr/leave_policy.md › **Annual** ![x](http://e.example/i.png)"
    )


def test_strict_sanitiser_escapes_all_ascii_punctuation() -> None:
    assert AnswerSanitiser(strict=True).feed("a.b-c") == "a\\.b\\-c"


def test_timing_text() -> None:
    stats = GenerationStats("m", tokens_in=800, tokens_out=50, ttft_s=1.0, seconds=6.0, queued_s=2)
    line = timing_text(stats, 0.25, dropped_passages=2)
    assert line == (
        "first token 1.0 s · total 8.0 s · 10.0 tokens/s · waited 2.0 s for the model · "
        "retrieval 0.25 s · 2 passages left out to fit the model's context"
    )
    assert timing_text(None, 0.1) == "retrieval 0.10 s"


def test_when() -> None:
    assert when("2026-11-29T01:59:00+00:00") == "2026-11-29 01:59 UTC"
    assert when(None) == "never"
    assert when("yesterday") == "yesterday"
