"""The Admin page, headless (`AppTest`), on a real index of a small corpus."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Progress as Progress_

from ingest.sync import IngestReport, Progress
from kbchat import ingestion
from kbchat.admin import auth, jobs
from kbchat.admin.auth import hash_password
from kbchat.audit import audit_for
from kbchat.knowledge import index_for, manifest_for, run_ingest
from kbchat.overrides import effective_settings, load_overrides
from kbchat.settings import Settings
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app" / "views" / "admin.py")
MAIN = str(ROOT / "app" / "main.py")
PASSWORD = "a long admin password"
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def stored_hash() -> str:
    return hash_password(PASSWORD, n=2**10)


@pytest.fixture(autouse=True)
def fresh_throttle() -> Iterator[None]:
    auth.THROTTLE.succeeded()
    yield
    auth.THROTTLE.succeeded()


@pytest.fixture
def kb(
    tmp_path: Path, small_corpus: Path, monkeypatch: pytest.MonkeyPatch, stored_hash: str
) -> Settings:
    """The small corpus ingested; the app's environment points at it, with a password."""
    settings = make_settings(tmp_path, small_corpus)
    run_ingest(settings)
    monkeypatch.setenv("KBCHAT_INDEX_DIR", str(settings.paths.index_dir))
    monkeypatch.setenv("KBCHAT_CORPUS_DIR", str(settings.paths.corpus_dir))
    monkeypatch.setenv("KBCHAT_MODELS_DIR", str(settings.local.models_dir))
    monkeypatch.setenv("KBCHAT_ADMIN_PASSWORD_HASH", stored_hash)
    return settings


def _page(script: str = PAGE) -> AppTest:
    at = AppTest.from_file(script, default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str) -> Any:
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}: {[b.label for b in at.button]}"
    return matches[0]


def _sign_in(at: AppTest, password: str = PASSWORD) -> AppTest:
    at.text_input(key="admin-password").set_value(password)
    _button(at, "Sign in").click().run()
    assert not at.exception, at.exception
    return at


def _signed_in_page() -> AppTest:
    at = _sign_in(_page())
    assert len(at.tabs) == 5, [e.value for e in at.error]
    return at


def _text(node: Any) -> str:
    """Everything a node renders (its protobuf), recursively."""
    parts = [str(getattr(node, "proto", "") or "")]
    for child in getattr(node, "children", {}).values():
        parts.append(_text(child))
    return "\n".join(parts)


def _unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _messages(at: AppTest, kind: str) -> list[str]:
    return [_unescaped(str(getattr(m, "value", ""))) for m in at.get(kind)]


def _frame(at: AppTest, column: str) -> Any:
    """The first table with this column (AppTest does not expose a dataframe's key)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column")


def _audit_and_ledger(at: AppTest) -> tuple[Any, Any]:
    """The audit and ledger tables: the last two on the page (an empty one has no columns)."""
    return at.dataframe[-2].value, at.dataframe[-1].value


def _documents(at: AppTest) -> dict[str, dict[str, Any]]:
    return {row["Document"]: row for row in _frame(at, "Title").to_dict("records")}


def _upload(at: AppTest, *files: tuple[str, bytes, str], folder: str = "") -> AppTest:
    [uploader] = at.file_uploader
    uploader.set_value(list(files))
    at.run()
    if folder:
        at.text_input(key="admin-upload-folder").set_value(folder).run()
    at.button(key="admin-upload-button").click().run()
    assert not at.exception, at.exception
    return at


# -- sign-in ---------------------------------------------------------------------------------


def test_no_password_configured_keeps_the_page_locked_and_says_how(
    kb: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KBCHAT_ADMIN_PASSWORD_HASH")
    at = _page()
    [warning] = at.warning
    assert "No admin password is set" in warning.value
    assert "kbchat admin hash-password" in warning.value
    assert "hash-password" in at.code[0].value
    assert not at.text_input and not at.tabs and not at.dataframe


def test_malformed_hash_keeps_the_page_locked_without_showing_it(
    kb: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBCHAT_ADMIN_PASSWORD_HASH", "hunter2-plaintext")
    at = _page()
    assert "not a valid password hash" in at.warning[0].value
    assert "hunter2" not in _text(at._tree)
    assert not at.tabs


def test_right_password_opens_the_page_and_sign_out_locks_it(
    kb: Settings, stored_hash: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    at = _page()
    assert not at.tabs, "nothing is shown before signing in"
    _sign_in(at)
    assert [t.label for t in at.tabs] == [
        "Documents",
        "Re-ingest",
        "Settings",
        "Audit log",
        "Ledger",
    ]
    assert "Signed in as admin until" in at.caption[0].value
    rendered = _text(at._tree)
    assert PASSWORD not in rendered and stored_hash not in rendered
    assert "Admin signed in" in caplog.text
    assert PASSWORD not in caplog.text and stored_hash not in caplog.text
    at.button(key="admin-sign-out").click().run()
    assert not at.tabs and _messages(at, "success") == ["You are signed out."]
    assert at.text_input(key="admin-password").value == ""


def test_wrong_password_is_refused(kb: Settings, caplog: pytest.LogCaptureFixture) -> None:
    at = _sign_in(_page(), "not the password")
    assert "Failed admin sign-in" in caplog.text and "not the password" not in caplog.text
    assert _messages(at, "error") == ["Wrong password."]
    assert not at.tabs
    assert "not the password" not in _text(at._tree), "the form was cleared"


def test_repeated_failures_lock_the_sign_in_even_for_the_right_password(kb: Settings) -> None:
    at = _page()
    for _ in range(auth.MAX_FAILURES - 1):
        _sign_in(at, "guess")
        assert _messages(at, "error") == ["Wrong password."]
    _sign_in(at, "guess")
    assert "Too many failed sign-ins" in at.error[0].value
    _sign_in(at, PASSWORD)
    assert "Too many failed sign-ins" in at.error[0].value and not at.tabs
    # Without an address (AppTest, loopback) each browser session counts as its own client:
    # one locked-out session does not lock the admin out of another.
    fresh = _sign_in(_page(), PASSWORD)
    assert len(fresh.tabs) == 5, "another client may still sign in"
    rows = audit_for(kb).entries(100, event="admin_sign_in")
    assert [r.outcome for r in reversed(rows)] == [
        *["failed"] * auth.MAX_FAILURES,
        "locked",
        "ok",
    ]
    assert len({r.session for r in rows}) == 2 and all(r.session for r in rows)


def test_session_expires(kb: Settings) -> None:
    at = _signed_in_page()
    at.session_state["kbchat_admin_session"] = {
        **at.session_state["kbchat_admin_session"],
        "expires_at": time.time() - 1,
    }
    at.run()
    assert not at.tabs
    assert "Your admin session has ended" in at.info[0].value


def test_admin_page_is_in_the_navigation_and_locked(kb: Settings) -> None:
    at = _page(MAIN)
    at.switch_page("views/admin.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Admin"
    assert at.text_input(key="admin-password") is not None and not at.tabs


# -- documents -------------------------------------------------------------------------------


def test_document_list_shows_what_is_indexed(kb: Settings) -> None:
    (kb.paths.corpus_dir / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    run_ingest(kb)
    rows = _documents(_signed_in_page())
    leave = rows["hr/leave.md"]
    assert (leave["Format"], leave["Sensitivity"], leave["Status"]) == (
        "markdown", "internal", "indexed",
    )  # fmt: skip
    assert int(leave["Chunks"]) >= 1 and leave["Last ingested"].endswith("UTC")
    assert rows["hr/salaries.md"]["Sensitivity"] == "confidential"
    assert rows["broken.pdf"]["Status"] == "last attempt failed" and rows["broken.pdf"]["Error"]


def test_upload_allowed_file_lands_in_the_corpus(kb: Settings) -> None:
    at = _upload(
        _signed_in_page(),
        ("canteen.md", b"# Canteen\n\nOpens at 8.\n", "text/markdown"),
        ("menu.csv", b"day,dish\nMonday,soup\n", "text/csv"),
        folder="facilities",
    )
    corpus = kb.paths.corpus_dir
    assert (corpus / "facilities" / "canteen.md").read_bytes() == b"# Canteen\n\nOpens at 8.\n"
    assert (corpus / "facilities" / "menu.csv").exists()
    successes = _messages(at, "success")
    assert any("facilities/canteen.md added" in s for s in successes), successes
    assert _documents(at)["facilities/canteen.md"]["Status"] == "new: not ingested yet"
    assert at.file_uploader[0].value == [], "a fresh uploader"


def test_upload_disallowed_type_or_disguised_content_is_refused(kb: Settings) -> None:
    at = _upload(
        _signed_in_page(),
        ("tool.exe", b"MZ\x90\x00", "application/octet-stream"),
        ("report.pdf", b"MZ\x90\x00 an exe named pdf", "application/pdf"),
        ("notes.txt", b"\x00\x01\x02\x03binary", "text/plain"),
    )
    errors = " ".join(_messages(at, "error"))
    assert "tool.exe: .exe files cannot be ingested" in errors
    assert "report.pdf: this is not a PDF file" in errors
    assert "notes.txt: this is not a text file" in errors
    names = {p.name for p in kb.paths.corpus_dir.rglob("*")}
    assert not names & {"tool.exe", "report.pdf", "notes.txt"}


def test_upload_over_the_size_cap_is_refused(kb: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBCHAT_MAX_FILE_MB", "0.01")
    at = _upload(_signed_in_page(), ("big.txt", b"words " * 4000, "text/plain"))
    assert any("the limit is 0.01 MB" in e for e in _messages(at, "error"))
    assert not (kb.paths.corpus_dir / "big.txt").exists()


def test_upload_with_a_path_traversal_name_stays_inside_the_corpus(
    kb: Settings, tmp_path: Path
) -> None:
    at = _upload(_signed_in_page(), ("../../../escape.md", b"# Escape\n", "text/markdown"))
    assert any("escape.md added" in s for s in _messages(at, "success"))
    assert (kb.paths.corpus_dir / "escape.md").exists()
    assert not list(tmp_path.glob("escape.md")) and not (tmp_path.parent / "escape.md").exists()
    at = _upload(_signed_in_page(), ("x.md", b"# X\n", "text/markdown"), folder="../outside")
    assert any("not a plain folder" in e for e in _messages(at, "error"))
    assert not (tmp_path / "outside").exists()


def test_existing_file_is_replaced_only_after_confirmation(kb: Settings) -> None:
    target = kb.paths.corpus_dir / "welcome.md"
    original = target.read_bytes()
    at = _upload(_signed_in_page(), ("welcome.md", b"# Welcome v2\n", "text/markdown"))
    assert target.read_bytes() == original
    assert any("welcome.md already exists" in w for w in _messages(at, "warning"))
    _button(at, "Keep the existing file").click().run()
    assert target.read_bytes() == original
    assert not [b for b in at.button if b.label == "Replace"], "the question is gone"
    at = _upload(at, ("welcome.md", b"# Welcome v2\n", "text/markdown"))
    at.button(key="admin-replace-0").click().run()
    assert not at.exception, at.exception
    assert target.read_bytes() == b"# Welcome v2\n"
    assert any("welcome.md replaced" in s for s in _messages(at, "success"))


def test_delete_asks_first_then_removes_file_and_chunks(kb: Settings) -> None:
    entry = manifest_for(kb).entries()["it/vpn.txt"]
    at = _signed_in_page()
    at.selectbox(key="admin-document").select("it/vpn.txt").run()
    at.button(key="admin-delete").click().run()
    assert (kb.paths.corpus_dir / "it" / "vpn.txt").exists(), "not before confirming"
    assert any("Delete it/vpn.txt" in w for w in _messages(at, "warning"))
    at.button(key="admin-delete-confirm").click().run()
    assert not at.exception, at.exception
    assert not (kb.paths.corpus_dir / "it" / "vpn.txt").exists()
    assert "it/vpn.txt" not in manifest_for(kb).entries()
    assert index_for(kb).chroma.get(list(entry.chunk_ids)) == {}
    assert "it/vpn.txt" not in _documents(at)


def test_sensitivity_change_is_stored_audited_and_applied(kb: Settings) -> None:
    at = _signed_in_page()
    at.selectbox(key="admin-document").select("it/printers.txt").run()
    at.selectbox(key="admin-label-it/printers.txt").select("confidential").run()
    at.button(key="admin-save-label").click().run()
    assert not at.exception, at.exception
    assert any("label set to confidential" in s for s in _messages(at, "success"))
    status = jobs.wait_for_job(kb)
    assert status is not None and status.state == "done", status
    assert status.files is not None and status.files["updated"] == ["it/printers.txt"]
    assert manifest_for(kb).entries()["it/printers.txt"].sensitivity == "confidential"
    detail = json.loads(audit_for(kb).entries(event="setting_changed")[0].detail or "{}")
    assert detail["source"] == "it/printers.txt" and detail["to"] == "confidential"
    at.run()
    assert _documents(at)["it/printers.txt"]["Sensitivity"] == "confidential"


def test_access_change_is_stored_audited_and_in_the_index_at_once(kb: Settings) -> None:
    at = _signed_in_page()
    assert _documents(at)["it/printers.txt"]["Readable by"] == "everyone"
    at.selectbox(key="admin-document").select("it/printers.txt").run()
    at.text_input(key="admin-access-it/printers.txt").input("IT, hr").run()
    at.button(key="admin-save-access").click().run()
    assert not at.exception, at.exception
    assert any("readable by hr, it (admin setting)" in s for s in _messages(at, "success"))
    assert index_for(kb).stored_access()["it/printers.txt"] == {"hr,it": 1}  # no re-ingest
    detail = json.loads(audit_for(kb).entries(event="setting_changed")[0].detail or "{}")
    assert detail["setting"] == "access_overrides" and detail["to"] == ["hr", "it"]
    at.run()
    assert _documents(at)["it/printers.txt"]["Readable by"] == "hr, it"
    assert _documents(at)["it/printers.txt"]["Access from"] == "admin setting"


# -- re-ingest -------------------------------------------------------------------------------


class BlockingIngest:
    """Stands in for `run_ingest`: reports progress, then waits for the test."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, settings: Settings, corpus: Any, *, full: bool, progress: Any) -> Any:
        progress(Progress(0, 6, "hr/leave.md", "scanning"))
        progress(Progress(2, 6, "it/vpn.txt", "ingesting"))
        self.started.set()
        assert self.release.wait(60)
        progress(Progress(6, 6, "", "done"))
        return IngestReport(files_added=6, chunks_total=12)


def test_reingest_progress_survives_a_reload_and_a_second_start_is_refused(
    kb: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocking = BlockingIngest()
    monkeypatch.setattr(ingestion, "run_ingest", blocking)
    other_admin = _signed_in_page()  # rendered before the run starts: its button is live
    at = _signed_in_page()
    try:
        at.button(key="admin-reingest").click().run()
        assert blocking.started.wait(30)
        at.run()
        [bar] = at.get("progress")
        assert isinstance(bar, Progress_)
        assert bar.value == 33 and "2 of 6" in _unescaped(bar.text)
        assert "it/vpn.txt" in _unescaped(bar.text)
        other_admin.button(key="admin-reingest").click().run()
        refusal = " ".join(_messages(other_admin, "error"))
        assert "A re-ingestion is already running" in refusal and "wait for it" in refusal
        reloaded = _signed_in_page()  # a new browser session: the run is still shown
        [bar] = reloaded.get("progress")
        assert isinstance(bar, Progress_)
        assert "2 of 6" in _unescaped(bar.text)
    finally:
        blocking.release.set()
    status = jobs.wait_for_job(kb)
    assert status is not None and status.state == "done"
    at.run()
    assert not at.get("progress")
    assert any("6 added" in s for s in _messages(at, "success"))


def test_reingest_runs_for_real_and_reports_per_file(kb: Settings) -> None:
    (kb.paths.corpus_dir / "parking.md").write_text("# Parking\n\nBay 7 is for visitors.\n")
    (kb.paths.corpus_dir / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    at = _signed_in_page()
    at.button(key="admin-reingest").click().run()
    status = jobs.wait_for_job(kb)
    assert status is not None and status.state == "done", status
    at.run()
    assert any("1 added" in s and "1 failed" in s for s in _messages(at, "success"))
    report = _frame(at, "Result").to_dict("records")
    assert {"Document": "parking.md", "Result": "added", "Reason": ""} in report
    assert any(r["Document"] == "bad.pdf" and r["Result"] == "failed" for r in report)
    assert "parking.md" in manifest_for(kb).entries()


# -- settings, audit log, ledger ---------------------------------------------------------------


def test_settings_change_is_persisted_audited_and_in_force(kb: Settings) -> None:
    at = _signed_in_page()
    at.toggle(key="admin-cloud-allowed").set_value(True)
    at.text_area(key="admin-confidential-paths").set_value("hr/private/**\nlegal/**\n")
    _button(at, "Save settings").click().run()
    assert not at.exception, at.exception
    assert load_overrides(kb) == {
        "cloud_allowed": True,
        "confidential_paths": ["hr/private/**", "legal/**"],
    }
    effective = effective_settings(kb)
    assert effective.cloud.cloud_allowed is True
    changes = [json.loads(e.detail or "{}") for e in audit_for(kb).entries(event="setting_changed")]
    assert {c["setting"] for c in changes} == {"cloud_allowed", "confidential_paths"}
    assert all(e.user == "admin" for e in audit_for(kb).entries(event="setting_changed"))
    assert at.toggle(key="admin-cloud-allowed").value is True
    jobs.wait_for_job(kb)  # the new patterns started a re-ingest


def test_audit_log_viewer_filters_and_exports(kb: Settings) -> None:
    log = audit_for(kb)
    log.record("cloud_call", outcome="ok", question="=cmd|' /C calc'!A0", model="gpt-4o-mini")
    log.record("document_changed", outcome="ok", detail='{"source": "x.md"}')
    at = _signed_in_page()
    audit, ledger = _audit_and_ledger(at)
    # newest first: the sign-ins that opened the page (the user's, the admin's) are audited too
    assert list(audit["event"]) == ["admin_sign_in", "sign_in", "document_changed", "cloud_call"]
    assert len(ledger) == 0
    at.selectbox(key="audit-event").select("cloud_call").run()
    audit, _ledger = _audit_and_ledger(at)
    assert list(audit["event"]) == ["cloud_call"]
    assert list(audit["question"]) == ["=cmd|' /C calc'!A0"], "shown as written"
    at.text_input(key="audit-text").set_value("nothing like this").run()
    assert len(_audit_and_ledger(at)[0]) == 0
    at.text_input(key="audit-text").set_value("").run()
    at.date_input(key="audit-since").set_value(date.today() + timedelta(days=2)).run()
    assert len(_audit_and_ledger(at)[0]) == 0
    downloads = at.get("download_button")
    assert [d.proto.label for d in downloads] == ["Download CSV", "Download CSV"]
