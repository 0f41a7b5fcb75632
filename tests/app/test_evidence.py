"""`app.evidence.source_file`: a download never leaves the document folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.evidence import source_file

pytestmark = pytest.mark.unit


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "corpus"
    (root / "hr").mkdir(parents=True)
    (root / "hr" / "leave.md").write_text("27 days", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not for download", encoding="utf-8")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    monkeypatch.setenv("KBCHAT_CORPUS_DIR", str(root))
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
