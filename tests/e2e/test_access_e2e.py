"""Document access in a real browser, for two people signed in through a real OIDC provider.

alice (group ``hr``) asks about an hr-only document and gets an answer citing it, with its
source download; bob (``sales``) asks the same and gets the "nothing found" answer: his page,
his Compare page, the URLs he tries and his ``kbchat eval --as bob --groups sales`` never show
the document, its title or its text. Checked at what bob's browser receives.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from kbchat.answering.service import NOTHING_FOUND
from tests.e2e.signin import oidc_provider, sign_in, write_secrets
from tests.fixtures.browser import download_source
from tests.fixtures.streamlit_server import APP, ROOT, app_env, ingest, start_streamlit

pytestmark = pytest.mark.e2e

HR_SOURCE = "hr/salary_bands.md"
HR_TITLE = "Salary bands"
SECRET = "48,600"  # only in the hr-only document
QUESTION = "What is the salary band for grade 7?"
MODEL_WAIT_MS = 240_000
TIMING = "first token"


@dataclass
class AccessApp:
    url: str
    env: dict[str, str]
    corpus: Path


def _corpus(folder: Path) -> Path:
    corpus = folder / "corpus"
    (corpus / "hr").mkdir(parents=True)
    (corpus / HR_SOURCE).write_text(
        "---\ntitle: Salary bands\naccess: [hr]\n---\n# Salary bands\n\n"
        f"The salary band for grade 7 runs from {SECRET} to 56,200 pounds a year. Grade 8 "
        "runs from 56,200 to 64,900 pounds. Bands are reviewed every April by HR.\n",
        encoding="utf-8",
    )
    (corpus / "welcome.md").write_text(
        "# Welcome\n\nYour buddy meets you at reception on your first morning and shows you "
        "the kitchen, the fire exits and where the printers are.\n",
        encoding="utf-8",
    )
    return corpus


@pytest.fixture(scope="module")
def access_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccessApp]:
    tmp = tmp_path_factory.mktemp("access-e2e")
    corpus = _corpus(tmp)
    with oidc_provider() as provider:
        provider.set_user("alice", email="alice@example.com", name="Alice", groups=["hr"])
        provider.set_user("bob", email="bob@example.com", name="Bob", groups=["sales"])
        env = app_env(
            tmp,
            corpus=corpus,
            settings={
                "AUTH_MODE": "oidc",
                "MAX_ANSWER_TOKENS": "64",
                "LOCAL_N_THREADS": "1",
            },
            extra={"STREAMLIT_SECRETS_FILES": str(write_secrets(tmp, provider))},
        )
        ingest(env)
        with start_streamlit(APP, env) as url:
            yield AccessApp(url, env, corpus)


def _ask(page: Page, question: str) -> None:
    chat_input = page.get_by_test_id("stChatInputTextArea")
    chat_input.wait_for(timeout=180_000)
    chat_input.fill(question)
    chat_input.press("Enter")
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2, timeout=60_000)


def test_alice_reads_the_hr_document_and_bob_cannot_tell_it_exists(
    access_app: AccessApp, browser: Browser
) -> None:
    alice = browser.new_context(accept_downloads=True).new_page()
    bob_context = browser.new_context(accept_downloads=True)
    bob = bob_context.new_page()
    bob_responses: list[str] = []

    def keep(response: object) -> None:
        with contextlib.suppress(Exception):  # redirects and binary bodies have no text
            bob_responses.append(response.text())  # type: ignore[attr-defined]

    bob.on("response", keep)
    bob_frames: list[str] = []
    bob.on("websocket", lambda ws: ws.on("framereceived", lambda f: bob_frames.append(str(f))))
    try:
        sign_in(alice, access_app.url, "alice")
        _ask(alice, QUESTION)
        answer = alice.get_by_test_id("stChatMessage").nth(1)
        expect(answer).to_contain_text(TIMING, timeout=MODEL_WAIT_MS)
        cited = answer.get_by_test_id("stExpander").filter(has_text=HR_SOURCE)
        expect(cited.first).to_be_visible()
        cited.first.locator("summary").click()
        expect(cited.first.get_by_test_id("stText")).to_contain_text(SECRET)
        saved = download_source(alice, cited.first.get_by_test_id("stDownloadButton"))
        assert SECRET in Path(saved.path()).read_text(encoding="utf-8")

        sign_in(bob, access_app.url, "bob")
        documents = bob.get_by_test_id("stSidebar").get_by_test_id("stMetric").first
        expect(documents).to_contain_text("1")  # welcome.md only: the hr document is not counted
        expect(documents).not_to_contain_text("2")
        _ask(bob, QUESTION)
        reply = bob.get_by_test_id("stChatMessage").nth(1)
        expect(reply).to_contain_text(NOTHING_FOUND[:40], timeout=MODEL_WAIT_MS)
        expect(reply.get_by_test_id("stDownloadButton")).to_have_count(0)

        bob.goto(f"{access_app.url}/compare")
        question = bob.get_by_label("Question")
        question.wait_for(timeout=120_000)
        question.fill(QUESTION)
        bob.get_by_role("button", name=re.compile("Ask the private model|Compare")).click()
        expect(bob.get_by_text(NOTHING_FOUND[:40]).first).to_be_visible(timeout=MODEL_WAIT_MS)

        for path in (f"/{HR_SOURCE}", f"/app/static/{HR_SOURCE}", f"/media/{HR_SOURCE}"):
            got = bob.request.get(f"{access_app.url}{path}")
            assert SECRET not in got.text(), path
        page_text = bob.locator("body").inner_text()
        received = "\n".join([page_text, *bob_responses, *bob_frames])
        for tell in (SECRET, HR_SOURCE, "salary_bands", HR_TITLE):
            assert tell not in received, f"bob's browser received {tell!r}"
    finally:
        alice.context.close()
        bob_context.close()


def _eval_retrieved(env: dict[str, str], tmp: Path, *who: str) -> list[str]:
    questions = tmp / "questions.jsonl"
    questions.write_text(json.dumps({"question": QUESTION}) + "\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kbchat",
            "eval",
            str(questions),
            "--retrieval-only",
            "--json",
            *who,
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stderr or not who
    return [source for row in json.loads(done.stdout)["rows"] for source in row["retrieved"]]


def test_eval_as_bob_never_retrieves_the_hr_document(access_app: AccessApp, tmp_path: Path) -> None:
    as_alice = _eval_retrieved(access_app.env, tmp_path, "--as", "alice", "--groups", "hr")
    assert HR_SOURCE in as_alice
    as_bob = _eval_retrieved(access_app.env, tmp_path, "--as", "bob", "--groups", "sales")
    assert as_bob and HR_SOURCE not in as_bob
