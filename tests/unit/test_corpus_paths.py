"""`ingest.corpus_paths.inside_corpus`: ``..``, absolute paths and symbolic links cannot lead
out of the corpus folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.corpus_paths import inside_corpus

pytestmark = pytest.mark.unit


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A corpus with a document, a link inside, links out, and a secret next to it."""
    root = tmp_path / "corpus"
    (root / "hr").mkdir(parents=True)
    (root / "hr" / "leave.md").write_text("# Leave\n", encoding="utf-8")
    (tmp_path / "secret.md").write_text("# Secret\n", encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (root / "hr" / "pay.md").symlink_to(Path("leave.md"))
    (root / "hr" / "board.md").symlink_to(tmp_path / "secret.md")
    (root / "away").symlink_to(tmp_path / "outside", target_is_directory=True)
    return root


def test_a_document_and_a_new_file_are_inside(corpus: Path) -> None:
    assert inside_corpus(corpus, "hr/leave.md") == corpus.resolve() / "hr" / "leave.md"
    assert inside_corpus(corpus, "new/upload.md") == corpus.resolve() / "new" / "upload.md"


def test_dot_dot_inside_the_corpus_is_resolved(corpus: Path) -> None:
    assert inside_corpus(corpus, "hr/../hr/leave.md") == corpus.resolve() / "hr" / "leave.md"


@pytest.mark.parametrize("follow_link", [True, False])
@pytest.mark.parametrize(
    "source",
    [
        "../secret.md",
        "hr/../../secret.md",
        "../corpus-sibling/x.md",
        "..",
        "away/x.md",  # a file under a linked folder that leads outside
        "away/../../secret.md",
    ],
)
def test_paths_leading_outside_are_refused(corpus: Path, source: str, follow_link: bool) -> None:
    assert inside_corpus(corpus, source, follow_link=follow_link) is None


@pytest.mark.parametrize("follow_link", [True, False])
def test_an_absolute_path_is_checked_as_it_is(
    corpus: Path, tmp_path: Path, follow_link: bool
) -> None:
    assert inside_corpus(corpus, str(tmp_path / "secret.md"), follow_link=follow_link) is None
    assert inside_corpus(corpus, "/etc/passwd", follow_link=follow_link) is None


def test_a_link_leading_outside_is_refused_when_followed(corpus: Path) -> None:
    assert inside_corpus(corpus, "hr/board.md") is None


def test_a_link_inside_resolves_to_its_target(corpus: Path) -> None:
    assert inside_corpus(corpus, "hr/pay.md") == corpus.resolve() / "hr" / "leave.md"


def test_not_following_keeps_the_link_itself(corpus: Path) -> None:
    kept = inside_corpus(corpus, "hr/board.md", follow_link=False)
    assert kept == corpus.resolve() / "hr" / "board.md"
    assert kept is not None and kept.is_symlink()


@pytest.mark.parametrize("source", ["", ".", "hr/.."])
def test_not_following_needs_a_name(corpus: Path, source: str) -> None:
    assert inside_corpus(corpus, source, follow_link=False) is None


def test_a_corpus_given_through_a_link_is_resolved(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "docs").symlink_to(corpus, target_is_directory=True)
    assert inside_corpus(tmp_path / "docs", "hr/leave.md") == corpus.resolve() / "hr" / "leave.md"
    assert inside_corpus(tmp_path / "docs", "../secret.md") is None
