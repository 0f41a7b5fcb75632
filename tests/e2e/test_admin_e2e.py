"""The Admin page in a real browser: sign in, upload, re-ingest, find it through the chat; and
hostile document text that must neither run nor load anything, in the chat and the admin list.

``streamlit run`` on 127.0.0.1 (the project's ``.streamlit/config.toml``: XSRF protection on),
driven by Debian's Chromium; a tiny HTTP server on 127.0.0.1 counts any request for the pixel.
"""

from __future__ import annotations

import http.server
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from kbchat.admin.auth import hash_password
from tests.fixtures.ports import free_port
from tests.fixtures.streamlit_server import APP, app_env, ingest, start_streamlit

pytestmark = pytest.mark.e2e

PASSWORD = "e2e admin password"
MODEL_WAIT_S = 240
SCREENSHOT_DIR = Path("/tmp/kbchat-admin-e2e")
NEW_DOC = (
    "---\ntitle: Bike shed\n---\n# Bike shed\n\n"
    "The bike shed behind building C opens with the access code 4417. "
    "Bikes left there over the weekend must carry a name tag.\n"
)
QUESTION = "What is the access code of the bike shed?"
XSS_QUESTION = "When does the Quokka festival take place?"


class PixelServer:
    """An HTTP server on 127.0.0.1 that counts every request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PixelServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _hostile(port: int) -> dict[str, str]:
    pixel = f"http://127.0.0.1:{port}/pixel.png"
    payload = (
        "<script>window.__pwned=1</script>\n"
        '<img src=x onerror="window.__pwned=2">\n'
        f"![x]({pixel})\n"
    )
    return {
        "events/quokka.md": (
            "---\ntitle: '<img src=x onerror=\"window.__pwned=3\">Quokka bulletin'\n---\n"
            "# Quokka festival\n\nThe Quokka festival takes place on 12 June in the main hall.\n"
            f"{payload}\nTickets for the Quokka festival cost 5 pounds.\n"
        ),
        "events/quokka_notes.txt": (
            "Quokka festival notes\n\nThe Quokka festival takes place on 12 June; the stage "
            f"opens at 18:00.\n{payload}"
        ),
    }


@dataclass
class AdminApp:
    url: str
    corpus: Path
    pixel: PixelServer


@pytest.fixture(scope="module")
def admin_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminApp]:
    """The UI on a small corpus (with the hostile documents), a password, a 1 MB upload cap."""
    tmp = tmp_path_factory.mktemp("admin-e2e")
    corpus = tmp / "corpus"
    (corpus / "hr").mkdir(parents=True)
    (corpus / "hr" / "leave.md").write_text(
        "# Leave policy\n\n## Annual leave\nEveryone gets 27 days of annual leave.\n"
    )
    (corpus / "welcome.md").write_text("# Welcome\n\nYour buddy meets you at reception.\n")
    with PixelServer() as pixel:
        for source, text in _hostile(pixel.port).items():
            (corpus / source).parent.mkdir(parents=True, exist_ok=True)
            (corpus / source).write_text(text, encoding="utf-8")
        env = app_env(
            tmp,
            corpus=corpus,
            settings={
                "ADMIN_PASSWORD_HASH": hash_password(PASSWORD),
                "MAX_FILE_MB": "1",
                "MAX_ANSWER_TOKENS": "48",
            },
        )
        ingest(env)
        with start_streamlit(APP, env) as url:
            yield AdminApp(url, corpus, pixel)


@dataclass
class Tab:
    page: Page
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    tab = Tab(context.new_page())
    tab.page.set_default_timeout(60_000)
    tab.page.on("request", lambda request: tab.requests.append(request.url))

    def dismiss(dialog: object) -> None:
        tab.dialogs.append(getattr(dialog, "message", ""))
        dialog.dismiss()  # type: ignore[attr-defined]

    tab.page.on("dialog", dismiss)
    try:
        yield tab
    finally:
        context.close()


def _sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/admin")
    password = page.get_by_label("Admin password")
    password.wait_for(timeout=180_000)  # the first run loads the embedder
    password.fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in")).click()
    expect(page.get_by_role("tab", name="Documents")).to_be_visible(timeout=60_000)


def _ask(page: Page, url: str, question: str) -> None:
    """Ask in the chat and wait until the answer (with its timing line) is complete."""
    page.goto(url)
    chat_input = page.get_by_test_id("stChatInputTextArea")
    chat_input.wait_for(timeout=180_000)
    chat_input.fill(question)
    chat_input.press("Enter")
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(2, timeout=60_000)
    deadline = time.monotonic() + MODEL_WAIT_S
    while "first token" not in messages.nth(1).inner_text():
        assert time.monotonic() < deadline, "the answer did not finish in time"
        time.sleep(0.3)


def _open_passages(page: Page) -> list[str]:
    assistant = page.get_by_test_id("stChatMessage").nth(1)
    expanders = assistant.get_by_test_id("stExpander")
    texts = []
    for i in range(expanders.count()):
        expanders.nth(i).locator("summary").click()
        body = expanders.nth(i).get_by_test_id("stText")
        expect(body).to_be_visible()
        texts.append(body.inner_text())
    return texts


def _pwned(page: Page) -> object:
    return page.evaluate("() => window.__pwned")


def test_admin_uploads_a_document_reingests_and_the_chat_finds_it(
    admin_app: AdminApp, tab: Tab, tmp_path: Path
) -> None:
    page, url = tab.page, admin_app.url
    _sign_in(page, url)
    upload = tmp_path / "bike_shed.md"
    upload.write_text(NEW_DOC, encoding="utf-8")
    filler = tmp_path / "handbook_appendix.md"  # big enough for the progress bar to be seen
    filler.write_text(
        "# Appendix\n\n"
        + "\n\n".join(
            f"## Rule {n}\nRule {n} says that meeting room {n} must be booked in advance "
            f"and left tidy for the next team; the facilities desk checks room {n} daily."
            for n in range(400)
        ),
        encoding="utf-8",
    )
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([upload, filler])
    upload_button = page.get_by_role("button", name=re.compile("Add to the document folder"))
    expect(upload_button).to_be_enabled()
    upload_button.click()
    expect(page.get_by_text("bike_shed.md added. Re-ingest to bring it")).to_be_visible()
    assert (admin_app.corpus / "bike_shed.md").read_text(encoding="utf-8") == NEW_DOC

    page.get_by_role("tab", name="Re-ingest").click()
    page.get_by_role("button", name=re.compile("Re-ingest now")).click()
    progress = page.get_by_test_id("stProgress")
    expect(progress).to_be_visible(timeout=30_000)  # the live bar
    page.reload()  # the run belongs to the server: after signing in again it is still there
    _sign_in(page, url)
    page.get_by_role("tab", name="Re-ingest").click()
    finished = page.get_by_text(re.compile(r"The last ingestion \(admin page\) finished"))
    expect(finished).to_be_visible(timeout=180_000)
    expect(page.get_by_text(re.compile(r"2 added"))).to_be_visible()
    shot = SCREENSHOT_DIR / "admin-reingest.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    page.get_by_role("tab", name="Documents").click()
    page.screenshot(path=str(SCREENSHOT_DIR / "admin-documents.png"), full_page=True)

    _ask(page, url, QUESTION)
    passages = _open_passages(page)
    assert any("4417" in text for text in passages), passages
    outside = [u for u in tab.requests if not u.startswith(url)]
    assert outside == [], f"the page fetched from outside the server: {outside}"


def test_hostile_document_text_neither_runs_nor_loads(admin_app: AdminApp, tab: Tab) -> None:
    page, url = tab.page, admin_app.url
    _ask(page, url, XSS_QUESTION)
    passages = _open_passages(page)
    shown = "\n".join(passages)
    assert "window.__pwned=1" in shown, "the payload is shown as text, not dropped"
    assert _pwned(page) is None
    page.screenshot(path=str(SCREENSHOT_DIR / "chat-hostile.png"), full_page=True)

    _sign_in(page, url)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    page.get_by_role("tab", name="Documents").click()
    document = page.get_by_label("Document", exact=True)
    document.click()
    page.get_by_role("option", name="events/quokka.md").click()
    time.sleep(1.0)
    assert _pwned(page) is None
    page.screenshot(path=str(SCREENSHOT_DIR / "admin-hostile.png"), full_page=True)

    main = page.get_by_test_id("stMain")
    assert main.locator("script").count() == 0
    assert main.locator("img[src='x'], img[onerror]").count() == 0
    assert tab.dialogs == []
    assert admin_app.pixel.hits == [], "the image was loaded"
    assert not [u for u in tab.requests if u.endswith("/x") or "pixel" in u]


def test_uploads_need_the_xsrf_token_and_obey_the_size_cap(
    admin_app: AdminApp, tab: Tab, tmp_path: Path
) -> None:
    forged = httpx.put(
        f"{admin_app.url}/_stcore/upload_file/some-session/some-file",
        files={"file": ("evil.md", b"# Evil\n", "text/markdown")},
        timeout=10,
    )
    assert forged.status_code == 403, forged.text
    page = tab.page
    _sign_in(page, admin_app.url)
    big = tmp_path / "too_big.txt"
    big.write_bytes(b"words " * 300_000)  # 1.8 MB, over the 1 MB cap
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(big)
    expect(page.get_by_text(re.compile(r"File must be 1(\.0)?\s?MB or smaller"))).to_be_visible()
    assert not (admin_app.corpus / "too_big.txt").exists()
