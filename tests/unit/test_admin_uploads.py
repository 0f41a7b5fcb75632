"""Uploads: safe names, content checks, the size cap, replace only when confirmed."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from kbchat.admin.uploads import (
    UploadError,
    UploadExistsError,
    check_content,
    safe_filename,
    safe_folder,
    save_upload,
)
from kbchat.audit import audit_for
from tests.conftest import make_settings

pytestmark = pytest.mark.unit


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("policy.md", "policy.md"),
        ("../../etc/passwd.md", "passwd.md"),
        ("..\\..\\windows\\win.TXT", "win.txt"),
        ("/etc/cron.d/job.csv", "job.csv"),
        (".hidden.md", "hidden.md"),
        ("~$lock.docx", "__lock.docx"),  # not an Office lock file any more
        ("a<script>b.md", "a_script_b.md"),
        ("semi;colon|pipe.txt", "semi_colon_pipe.txt"),
        ("tab\tand\nnewline.md", "tabandnewline.md"),
        ("Café menu.MD", "Café menu.md"),
        ("  spaced   out .pdf", "spaced out.pdf"),
        ("ﬁle.md", "file.md"),  # NFKC
        ("x" * 300 + ".md", "x" * 120 + ".md"),
    ],
)
def test_names_are_reduced_to_safe_plain_names(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("tool.exe", "cannot be ingested"),
        ("archive.tar.gz", "cannot be ingested"),
        ("README", "no extension"),
        ("....md", "no usable characters"),
        ("../.md", "no usable characters"),
        ("payload.md.exe", "cannot be ingested"),
    ],
)
def test_unsafe_or_unsupported_names_are_refused(name: str, reason: str) -> None:
    with pytest.raises(UploadError, match=reason):
        safe_filename(name)


def test_folders_stay_inside_the_corpus() -> None:
    assert safe_folder("") == ""
    assert safe_folder("hr/policies") == "hr/policies"
    assert safe_folder("hr\\policies/./2026") == "hr/policies/2026"
    for bad in ("../outside", "hr/../../x", "hr/<b>", ".git"):
        with pytest.raises(UploadError):
            safe_folder(bad)


def test_content_must_match_the_extension() -> None:
    check_content("a.pdf", b"%PDF-1.7\n...")
    check_content("a.docx", _docx())
    check_content("a.md", "# Café\n".encode())
    check_content("a.csv", "a,b\n1,2\n".encode("utf-16"))
    refusals = {
        "a.pdf": b"MZ\x90\x00 this is an exe",
        "b.docx": b"PK\x03\x04 not really a zip",
        "c.docx": b"%PDF-1.4 a pdf named docx",
        "d.md": b"\x7fELF\x02\x01\x01\x00\x00\x00binary",
        "e.txt": b"%PDF-1.4\n\x00\x00\x00\x9c\xe2",
        "f.html": b"",
    }
    for name, data in refusals.items():
        with pytest.raises(UploadError, match=name):
            check_content(name, data)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("other.xml", "<x/>")
    with pytest.raises(UploadError, match="not a Word"):
        check_content("g.docx", zipped.getvalue())


def test_save_writes_into_the_corpus_and_audits(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    settings = make_settings(tmp_path, corpus)
    saved = save_upload(settings, "../../evil/notes.md", b"# Notes\n", folder="team", user="admin")
    assert saved.source == "team/notes.md" and not saved.replaced
    assert (corpus / "team" / "notes.md").read_bytes() == b"# Notes\n"
    assert not (tmp_path / "evil").exists()
    assert [p.name for p in (corpus / "team").iterdir()] == ["notes.md"], "no temporary left"
    [entry] = audit_for(settings).entries(event="document_changed")
    assert json.loads(entry.detail or "{}") == {
        "action": "uploaded",
        "source": "team/notes.md",
        "bytes": 8,
    }
    assert entry.user == "admin"


def test_existing_file_is_replaced_only_when_confirmed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("old")
    settings = make_settings(tmp_path, corpus)
    with pytest.raises(UploadExistsError) as caught:
        save_upload(settings, "a.txt", b"new")
    assert caught.value.source == "a.txt"
    assert (corpus / "a.txt").read_text() == "old"
    assert save_upload(settings, "a.txt", b"new", replace=True).replaced
    assert (corpus / "a.txt").read_text() == "new"
    assert "replaced" in (audit_for(settings).entries()[0].detail or "")


def test_size_cap_follows_max_file_mb(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    settings = make_settings(tmp_path, corpus, max_file_mb=0.01)
    with pytest.raises(UploadError, match=r"big.txt: the file is 0\.0 MB; the limit is 0\.01 MB"):
        save_upload(settings, "big.txt", b"x" * 20_000)
    assert not (corpus / "big.txt").exists()
    save_upload(settings, "small.txt", b"x" * 10_000)


def test_symlinks_cannot_lead_outside(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    outside = tmp_path / "outside"
    corpus.mkdir()
    outside.mkdir()
    (corpus / "link").symlink_to(outside, target_is_directory=True)
    (corpus / "file.md").symlink_to(outside / "target.md")
    settings = make_settings(tmp_path, corpus)
    with pytest.raises(UploadError, match="outside the document folder"):
        save_upload(settings, "x.md", b"# x\n", folder="link")
    with pytest.raises(UploadError, match="outside the document folder"):
        save_upload(settings, "file.md", b"# x\n", replace=True)
    assert list(outside.iterdir()) == []
