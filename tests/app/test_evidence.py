"""`app.evidence.source_file`: a download never leaves the document folder, and only an
indexed document the user may read downloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.evidence import source_file
from kbchat.knowledge import run_ingest
from tests.conftest import make_settings

pytestmark = pytest.mark.unit


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "corpus"
    (root / "hr").mkdir(parents=True)
    (root / "hr" / "leave.md").write_text("27 days", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not for download", encoding="utf-8")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    monkeypatch.setenv("KBCHAT_CORPUS_DIR", str(root))
    monkeypatch.setenv("KBCHAT_INDEX_DIR", str(tmp_path / "index"))
    run_ingest(make_settings(tmp_path, root))
    return root


def test_a_source_in_the_corpus_is_found(corpus: Path) -> None:
    assert source_file("hr/leave.md") == (corpus / "hr" / "leave.md").resolve()


@pytest.mark.parametrize(
    "source", ["../secret.txt", "hr/../../secret.txt", "link.txt", "/etc/passwd", "", "hr"]
)
def test_paths_outside_the_corpus_or_missing_are_refused(corpus: Path, source: str) -> None:
    assert source_file(source) is None


def test_a_removed_file_is_reported_missing(corpus: Path) -> None:
    (corpus / "hr" / "leave.md").unlink()
    assert source_file("hr/leave.md") is None


def test_a_file_that_is_not_indexed_does_not_download(corpus: Path) -> None:
    (corpus / "hr" / "added-later.md").write_text("not ingested yet", encoding="utf-8")
    assert source_file("hr/added-later.md") is None  # as unknown as a forbidden document
