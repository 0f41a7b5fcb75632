"""The chat UI in a real browser: ``streamlit run`` on 127.0.0.1, driven by Debian's Chromium."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.fixtures.browser import download_source
from tests.fixtures.streamlit_server import APP, ROOT, app_env, chat_app, start_streamlit

pytestmark = pytest.mark.e2e

QUESTION = "How many days of annual leave do I get?"
PASSAGE_PHRASE = "27 days"  # hr/annual_leave_policy.md, "Standard entitlement"
TIMING = "first token"  # the timing line under a finished answer
MODEL_WAIT_MS = 240_000  # model load + answer on 2 shared cores, with room to spare


@pytest.fixture(scope="module")
def chat_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The kbchat UI on a fresh index of docs_corpus; stopped at the end of the module."""
    # One llama.cpp thread: the browser, the server and this test share the 2 cores.
    settings = {"MAX_ANSWER_TOKENS": "96", "LOCAL_N_THREADS": "1"}
    with chat_app(tmp_path_factory.mktemp("e2e-app"), **settings) as url:
        yield url


@dataclass
class Tab:
    """A browser page and the URL of every request it made."""

    page: Page
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    """A tall page (Streamlit scrolls inside its own container, so a screenshot shows the
    viewport only) that records its requests; closed even on failure."""
    context = browser.new_context(viewport={"width": 1280, "height": 2000}, accept_downloads=True)
    tab = Tab(context.new_page())
    tab.page.set_default_timeout(60_000)
    tab.page.on("request", lambda request: tab.requests.append(request.url))
    try:
        yield tab
    finally:
        context.close()


def _answer_text(message: Locator) -> str:
    markdown = message.get_by_test_id("stMarkdownContainer")
    return markdown.first.inner_text() if markdown.count() else ""


def test_question_streams_an_answer_with_numbered_sources(
    chat_url: str, tab: Tab, tmp_path: Path
) -> None:
    """Ask a question: the answer streams in, the model notice shows, a numbered source
    expander opens on the passage text, and nothing is fetched from outside the server."""
    page = tab.page
    page.goto(chat_url)
    chat_input = page.get_by_test_id("stChatInputTextArea")
    chat_input.wait_for(timeout=180_000)  # the first run loads the embedder
    expect(page.get_by_text("Answers come from SmolLM2-135M-Instruct")).to_be_visible()
    expect(page.get_by_text("Llama 2 7B Chat is not present")).to_be_visible()
    page.screenshot(path=str(tmp_path / "chat-start.png"))

    chat_input.fill(QUESTION)
    chat_input.press("Enter")
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(2, timeout=60_000)
    assistant = messages.nth(1)
    expect(messages.nth(0)).to_contain_text(QUESTION)

    # Sample the answer while it streams, until the timing line says it is finished.
    streamed: list[str] = []
    deadline = time.monotonic() + MODEL_WAIT_MS / 1000
    while TIMING not in assistant.inner_text():
        assert time.monotonic() < deadline, "the answer did not finish in time"
        text = _answer_text(assistant)
        # The model may still be loading (the UI preloads it): that notice is not answer text.
        if text.strip() and not text.startswith("Waiting for the model"):
            streamed.append(text)
        time.sleep(0.15)
    final = _answer_text(assistant)
    assert final.strip(), "the finished answer has no text"
    assert streamed, "no answer text was visible before the answer finished (no streaming)"
    assert len(final) >= len(streamed[0])

    # The summary starts with an icon (its ligature text), so the label is not anchored.
    numbered = assistant.get_by_test_id("stExpander").filter(has_text=re.compile(r"\[\d+\] \S"))
    assert numbered.count() >= 1
    shown = []
    for i in range(numbered.count()):
        expander = numbered.nth(i)
        expander.locator("summary").click()
        body = expander.get_by_test_id("stText")
        expect(body).to_be_visible()
        shown.append(body.inner_text())
    assert any(PASSAGE_PHRASE in text for text in shown), shown

    # The passage's source file downloads from the corpus folder.
    evidence = numbered.nth(next(i for i, text in enumerate(shown) if PASSAGE_PHRASE in text))
    saved = download_source(page, evidence.get_by_test_id("stDownloadButton"))
    assert saved.suggested_filename.endswith(".md")
    assert PASSAGE_PHRASE in Path(saved.path()).read_text(encoding="utf-8")
    expect(assistant.get_by_test_id("stFeedback")).to_be_visible()

    shot = tmp_path / "chat.png"
    page.screenshot(path=str(shot))
    timing = assistant.get_by_test_id("stCaptionContainer").filter(has_text=TIMING)
    growth = sorted({len(text) for text in streamed})
    print(f"\nscreenshots: {tmp_path}; streamed lengths {growth}; answer {final!r}")
    print(timing.inner_text())
    outside = [u for u in tab.requests if not u.startswith(chat_url)]
    assert not outside, f"the page fetched from outside the server: {outside}"


def test_a_second_question_waits_for_the_model_and_is_told_so(
    chat_url: str, browser: Browser
) -> None:
    """Two sessions ask at once: the second is told it waits for the model, then answered."""
    contexts = [browser.new_context(viewport={"width": 1280, "height": 1400}) for _ in range(2)]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.set_default_timeout(60_000)
            page.goto(chat_url)
            page.get_by_test_id("stChatInputTextArea").wait_for(timeout=180_000)
        first, second = pages
        _send(first, "Who approves a purchase order of 12,000 pounds?")
        expect(first.get_by_test_id("stChatMessage")).to_have_count(2)
        expect(first.get_by_text("is reading the passages")).to_be_visible()
        _send(second, "How do I connect to the VPN?")
        expect(second.get_by_text(re.compile(r"Waiting for the model: \d+ request"))).to_be_visible(
            timeout=MODEL_WAIT_MS
        )
        for page in pages:
            expect(page.get_by_text(TIMING)).to_be_visible(timeout=MODEL_WAIT_MS)
        expect(second.get_by_text("Waiting for the model")).to_have_count(0)
    finally:
        for context in contexts:
            context.close()


def _send(page: Page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")


def test_a_bookmarked_chat_url_on_a_fresh_server_gets_the_whole_app(
    tab: Tab, tmp_path: Path
) -> None:
    """The first visitor after a start opens /chat directly and still gets app/main.py (the
    sidebar, the page config): the pages live in ``app/views/``, not in a ``pages/`` folder
    that Streamlit would run on its own."""
    page = tab.page
    with start_streamlit(APP, app_env(tmp_path)) as url:  # an empty index is enough here
        page.goto(f"{url}/chat")
        expect(page.get_by_text("Ask the company documents")).to_be_visible(timeout=180_000)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("Knowledge base")).to_be_visible()
        expect(page.get_by_test_id("stSidebarNav")).to_contain_text("Chat")
        expect(page.get_by_test_id("stChatInputTextArea")).to_be_visible()


NASTY = (
    "Image ![x](http://evil.invalid/img.png) and link [click](http://evil.invalid/link) and "
    "raw <img src=http://evil.invalid/raw.png> <b>bold?</b> <script>alert(1)</script> "
    "auto <http://evil.invalid/auto> bare https://evil.invalid/bare www.evil.invalid "
    "mail someone@evil.invalid escaped \\![y](http://evil.invalid/esc.png) "
    "colour :red[red] maths $x^2$ entity &lt;img&gt; code `x` ref ![z][r] note[^1]\n\n"
    "[r]: http://evil.invalid/ref.png\n[^1]: http://evil.invalid/note\n"
)
PROBE = f"""
import streamlit as st
from app.render import answer_markdown, label_markdown, sanitised_stream

NASTY = {NASTY!r}
st.markdown(answer_markdown(NASTY))
st.write_stream(sanitised_stream(iter(NASTY)))  # one character at a time
with st.expander(label_markdown(NASTY), expanded=True):
    st.text(NASTY)
st.caption(label_markdown(NASTY))
st.success("probe done")
"""


def test_model_and_document_text_cannot_load_or_link(tab: Tab, tmp_path: Path) -> None:
    """What `app.render` makes of hostile text, rendered by the real Streamlit frontend
    (streaming included): no image, no link, no HTML, no request to another host."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE, encoding="utf-8")
    env = app_env(tmp_path)
    env["PYTHONPATH"] = str(ROOT)
    page = tab.page
    with start_streamlit(script, env) as url:
        page.goto(url)
        page.get_by_text("probe done").wait_for()
        main = page.get_by_test_id("stMain")
        assert main.locator("img").count() == 0
        links = main.locator("a[href]").evaluate_all("els => els.map(e => e.href)")
        assert [h for h in links if "evil" in h] == []
        assert main.locator("script, b, .katex").count() == 0
        text = main.inner_text()
        assert "http://evil.invalid/img.png" in text.replace("\u200b", "")
        assert "<img src=http://evil.invalid/raw.png>" in text
    fetched = [u for u in tab.requests if "evil" in u]
    assert fetched == []
