"""Compare and Quality in a real browser: ``streamlit run`` on 127.0.0.1 with ChatGPT stood
in for by llama.cpp's OpenAI-compatible server, driven by Debian's Chromium."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from kbchat.llm.models import packaged_model
from tests.fixtures.cloud_app import (
    CONFIDENTIAL_QUESTION,
    CONFIDENTIAL_SOURCE,
    QUESTION,
    cloud_env,
)
from tests.fixtures.llm_server import SERVER_MODEL, start_llama_server
from tests.fixtures.streamlit_server import chat_app

pytestmark = pytest.mark.e2e

MODEL_WAIT_MS = 240_000  # model load + two answers on 2 shared cores, with room to spare
FINISHED = "Time to first token"  # in a column's figures, once its answer has ended
# Room for the judge's reason: a reply cut off inside it is unparseable (and counted nowhere);
# at 40 tokens the packaged model's reason on this comparison ran past the end.
JUDGE_ENV = {"KBCHAT_JUDGE_RESPONSE_FORMAT": "json_object", "KBCHAT_JUDGE_MAX_TOKENS": "160"}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The kbchat UI on a fresh index of docs_corpus, its cloud model the local stand-in."""
    with (
        start_llama_server(packaged_model("smollm2"), chat_format="chatml", n_ctx=4096) as cloud,
        chat_app(
            tmp_path_factory.mktemp("e2e-compare"),
            # the judge is the cloud stand-in: llama.cpp enforces the schema in JSON mode
            extra_env={**cloud_env(cloud), **JUDGE_ENV},
        ) as url,
    ):
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A wide, tall page (Streamlit scrolls inside its own container), closed even on failure."""
    context = browser.new_context(viewport={"width": 1600, "height": 2400})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    try:
        yield tab
    finally:
        context.close()


def _open(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()


def _column(page: Page, title: str) -> Locator:
    """The newest comparison's column with this title (the newest is shown first)."""
    heading = page.get_by_role("heading", name=title, exact=True)
    return page.get_by_test_id("stColumn").filter(has=heading).first


def _body(column: Locator) -> str:
    """The answer text of a column: its Markdown that is not the title, a caption or the
    figures table."""
    page = column.page
    body = (
        column.get_by_test_id("stMarkdown")
        .filter(has_not=page.get_by_role("heading"))
        .filter(has_not=page.get_by_test_id("stCaptionContainer"))
        .filter(has_not=page.locator("table"))
    )
    return body.first.inner_text() if body.count() else ""


def _ask(page: Page, question: str) -> list[tuple[int, int]]:
    """Ask on the Compare page; returns (private, cloud) text lengths sampled while streaming."""
    titles = page.get_by_role("heading", name="Private model", exact=True)
    before = titles.count()
    page.get_by_role("textbox", name="Question", exact=True).fill(question)
    page.get_by_role("button", name="Compare").click()
    expect(titles).to_have_count(before + 1, timeout=MODEL_WAIT_MS)  # the new one is first
    private, cloud = _column(page, "Private model"), _column(page, "ChatGPT")
    samples: list[tuple[int, int]] = []
    deadline = time.monotonic() + MODEL_WAIT_MS / 1000

    def ended(column: Locator) -> bool:
        return FINISHED in column.inner_text() or column.get_by_test_id("stAlert").count() > 0

    while not (ended(private) and ended(cloud)):
        assert time.monotonic() < deadline, "the answers did not finish in time"
        samples.append((len(_body(private)), len(_body(cloud))))
        time.sleep(0.1)
    return samples


def test_compare_both_models_judge_and_see_it_on_the_quality_page(
    app_url: str, page: Page, tmp_path: Path
) -> None:
    page.goto(app_url)
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=180_000)  # embedder loaded
    _open(page, "Compare")
    title = page.get_by_role("heading", name="Compare the private model and ChatGPT")
    expect(title).to_be_visible()

    samples = _ask(page, QUESTION)
    private, cloud = _column(page, "Private model"), _column(page, "ChatGPT")
    expect(private).to_contain_text(FINISHED, timeout=MODEL_WAIT_MS)
    expect(cloud).to_contain_text(FINISHED, timeout=MODEL_WAIT_MS)
    assert _body(private).strip() and _body(cloud).strip(), "text in both columns"
    for figure in ("Total time", "Tokens in / out", "Groundedness"):
        expect(private).to_contain_text(figure)
        expect(cloud).to_contain_text(figure)
    expect(cloud).to_contain_text("Cost estimate (USD)")
    expect(cloud).to_contain_text(f"Model: {SERVER_MODEL}")
    expect(page.get_by_test_id("stMetric").filter(has_text="Agreement")).to_be_visible()
    both_streaming = [s for s in samples if s[0] and s[1]]
    print(f"\nanswer lengths seen while streaming (private, cloud): {sorted(set(samples))}")

    form = page.get_by_test_id("stForm").filter(has_text="Which answer was better?").first
    form.get_by_text("ChatGPT better").click()
    form.get_by_role("textbox", name="Comment (optional)").fill("clearer")
    form.get_by_role("button", name="Save judgement").click()
    expect(page.get_by_text("Judgement saved: ChatGPT better.")).to_be_visible()

    _ask(page, CONFIDENTIAL_QUESTION)
    withheld = page.get_by_test_id("stAlert").filter(has_text="Withheld from ChatGPT").first
    expect(withheld).to_be_visible()
    expect(withheld).to_contain_text(CONFIDENTIAL_SOURCE)
    expect(withheld).to_contain_text("confidential")
    shot = tmp_path / "compare.png"
    page.screenshot(path=str(shot))
    print(f"screenshot: {shot}; samples with text on both sides: {len(both_streaming)}")

    _open(page, "Quality")
    judged = page.get_by_test_id("stMetric").filter(has_text="Judged")
    expect(judged).to_contain_text("1")
    cloud_better = page.get_by_test_id("stMetric").filter(has_text="ChatGPT better")
    expect(cloud_better).to_contain_text("100%")
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "quality.png"))

    # the verdict: the judge (the same stand-in, through the gate) rates what was compared
    _open(page, "Verdict")
    expect(
        page.get_by_role("heading", name="Can the private model replace ChatGPT?")
    ).to_be_visible()
    page.get_by_role("button", name="Judge up to 20 comparisons not judged yet").click()
    verdict = page.get_by_test_id("stAlert").filter(has_text="1 by people, 1 by the judge")
    expect(verdict).to_be_visible(timeout=MODEL_WAIT_MS)
    # the confidential question is no pair: ChatGPT was not asked, so nothing is judged there
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "verdict.png"), full_page=True)
    print(f"verdict screenshot: {tmp_path / 'verdict.png'}")
