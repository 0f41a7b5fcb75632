"""Symbolic links cannot launder documents past the label rules or out of the Admin page.

The leak is checked where it would arrive: the recording proxy in front of the cloud
stand-in (`llama_cpp.server` serving the packaged model on 127.0.0.1).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbchat.admin.documents import delete_document, list_documents, set_sensitivity
from kbchat.answerers import private_answerer
from kbchat.audit import AuditLog, audit_for
from kbchat.cloud_answer import start_cloud_answer
from kbchat.errors import CloudNotAllowedError
from kbchat.knowledge import manifest_for, run_ingest
from kbchat.settings import RetrievalSettings, Settings
from tests.conftest import make_settings
from tests.fixtures.llm_server import SERVER_MODEL
from tests.fixtures.recording_proxy import ProxyControl

pytestmark = [pytest.mark.security, pytest.mark.integration]

API_KEY = "sk-test-kbchat-links-0123456789abcdef"
# No front matter: only the path rule hr/private/** makes it confidential.
SALARIES = (
    "# Salary bands\n\nLevel 3 engineers earn between 52,000 and 61,000 pounds a year.\n"
    "Level 4 engineers earn between 63,000 and 74,000 pounds a year.\n"
)
OUTSIDE_SECRET = "# Board notes\n\nThe Heron acquisition closes on 14 March for 9.2 million.\n"
QUESTIONS = [
    "How much do level 3 engineers earn?",
    "When does the Heron acquisition close?",
    "When does reception open?",  # a question the cloud may answer
]


def _corpus(tmp: Path) -> Path:
    corpus = tmp / "corpus"
    (corpus / "hr" / "private").mkdir(parents=True)
    (corpus / "public").mkdir()
    (corpus / "hr" / "private" / "salaries.md").write_text(SALARIES, encoding="utf-8")
    (corpus / "welcome.md").write_text(
        "# Welcome\n\nReception opens at 8:30. Engineers get a laptop on day one.\n"
    )
    (corpus / "public" / "pay.md").symlink_to(Path("..", "hr", "private", "salaries.md"))
    outside = tmp / "elsewhere"
    outside.mkdir()
    (outside / "board.md").write_text(OUTSIDE_SECRET, encoding="utf-8")
    (corpus / "public" / "board.md").symlink_to(outside / "board.md")
    (corpus / "public" / "elsewhere").symlink_to(outside, target_is_directory=True)
    return corpus


def _settings(tmp: Path, corpus: Path, base_url: str) -> Settings:
    settings = make_settings(
        tmp,
        corpus,
        local={"local_n_ctx": 2048},
        generation={"max_answer_tokens": 16, "temperature": 0.0},
        cloud={
            "cloud_allowed": True,
            "openai_api_key": API_KEY,
            "openai_base_url": base_url,
            "cloud_model": SERVER_MODEL,
            "cloud_max_retries": 0,
            "cloud_timeout_s": 60,
        },
    )
    # Two passages: the gate's last check (whole withheld texts in the prompt) does not get
    # a copy of the target's text to catch a link's passage by.
    settings.retrieval = RetrievalSettings(top_k=2, _env_file=None)  # type: ignore[call-arg]
    return settings


def test_a_link_into_a_confidential_folder_never_reaches_the_cloud(
    tmp_path: Path, cloud_stand_in: tuple[str, ProxyControl]
) -> None:
    base_url, control = cloud_stand_in
    control.requests.clear()
    settings = _settings(tmp_path, _corpus(tmp_path), base_url)
    report = run_ingest(settings)
    skipped = {s["path"]: s["reason"] for s in report.skipped}
    assert "outside the document folder" in skipped["public/board.md"]
    assert "outside the document folder" in skipped["public/elsewhere"]
    entries = manifest_for(settings).entries()
    assert "public/board.md" not in entries
    assert entries["public/pay.md"].sensitivity == "confidential", "the target's rule applies"

    answerer, _ = private_answerer(settings)
    audit = AuditLog(tmp_path / "audit.sqlite3")
    withheld: set[str] = set()
    for question in QUESTIONS:
        retrieval = answerer.retrieve(question)
        try:
            request = start_cloud_answer(settings, retrieval, audit=audit)
        except CloudNotAllowedError:
            continue  # stopped by the gate's last check: nothing was sent
        withheld |= {w.passage.hit.metadata["source"] for w in request.decision.withheld}
        if request.stream is not None:
            list(request.stream)
    bodies = control.bodies()
    assert control.requests, "the questions' other passages did go to the cloud"
    for secret in ("52,000", "61,000", "63,000", "Heron acquisition", "9.2 million"):
        assert secret not in bodies, f"{secret!r} reached the cloud"
    assert "public/pay.md" in withheld


def test_a_target_labelled_confidential_after_ingestion_is_withheld_through_its_link(
    tmp_path: Path, cloud_stand_in: tuple[str, ProxyControl]
) -> None:
    """The admin labels the target (not the link) confidential and does not re-ingest: the
    gate applies the target's label to the link's passages at the next question."""
    base_url, control = cloud_stand_in
    control.requests.clear()
    corpus = _corpus(tmp_path)
    (corpus / "ops").mkdir()
    (corpus / "ops" / "board.md").write_text(OUTSIDE_SECRET, encoding="utf-8")
    (corpus / "public" / "board-notes.md").symlink_to(Path("..", "ops", "board.md"))
    settings = _settings(tmp_path, corpus, base_url)
    run_ingest(settings)
    entries = manifest_for(settings).entries()
    assert entries["public/board-notes.md"].sensitivity == "internal"
    set_sensitivity(settings, "ops/board.md", "confidential")

    answerer, _ = private_answerer(settings)
    retrieval = answerer.retrieve("When does the Heron acquisition close?")
    sources = {hit.metadata["source"] for hit in retrieval.hits}
    assert "public/board-notes.md" in sources, "the link's passage is among the evidence"
    try:
        request = start_cloud_answer(settings, retrieval, audit=AuditLog(tmp_path / "a.sqlite3"))
    except CloudNotAllowedError:
        request = None  # stopped by the gate's last check: nothing was sent
    if request is not None:
        withheld = {w.passage.hit.metadata["source"] for w in request.decision.withheld}
        assert {"public/board-notes.md", "ops/board.md"} <= withheld
        if request.stream is not None:
            list(request.stream)
    for secret in ("Heron acquisition", "9.2 million"):
        assert secret not in control.bodies(), f"{secret!r} reached the cloud"


def test_the_admin_lists_relabels_and_deletes_links_not_their_targets(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    settings = make_settings(tmp_path, corpus)
    run_ingest(settings)
    rows = {row.source: row for row in list_documents(settings)}
    assert rows["public/pay.md"].link_target == "hr/private/salaries.md"
    assert rows["public/pay.md"].sensitivity == "confidential"
    assert rows["public/board.md"].status == "skipped"
    assert "outside the document folder" in (rows["public/board.md"].error or "")
    assert rows["public/board.md"].link_target == str(tmp_path / "elsewhere" / "board.md")
    # A lower label on the link cannot beat the target's path rule.
    decision = set_sensitivity(settings, "public/pay.md", "public")
    assert (decision.label, decision.reason) == ("confidential", "path rule")
    run_ingest(settings)
    assert manifest_for(settings).entries()["public/pay.md"].sensitivity == "confidential"
    # Deleting a link removes the link; the file it points to stays, inside or outside.
    delete_document(settings, "public/pay.md")
    delete_document(settings, "public/board.md")
    assert not (corpus / "public" / "pay.md").is_symlink()
    assert not (corpus / "public" / "board.md").is_symlink()
    assert (corpus / "hr" / "private" / "salaries.md").read_text(encoding="utf-8") == SALARIES
    assert (tmp_path / "elsewhere" / "board.md").read_text(encoding="utf-8") == OUTSIDE_SECRET
    entries = manifest_for(settings).entries()
    assert "public/pay.md" not in entries and "hr/private/salaries.md" in entries
    rows_ = audit_for(settings).entries(event="document_changed")
    deleted = [json.loads(r.detail or "{}")["source"] for r in rows_]
    assert {"public/pay.md", "public/board.md"} <= set(deleted)
