"""Hostile upload names: a name the file system cannot hold fails alone, the batch goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbchat.admin.uploads import UploadError, save_upload
from kbchat.settings import Settings
from tests.app.test_admin_page import (  # noqa: F401 - fixtures of the admin page's tests
    _messages,
    _signed_in_page,
    _upload,
    fresh_throttle,
    kb,
    stored_hash,
)
from tests.conftest import make_settings

pytestmark = [pytest.mark.security, pytest.mark.integration]

LONG_NAME = "日" * 100 + ".md"  # 100 characters, 303 bytes in UTF-8


def test_a_name_over_255_bytes_is_refused_with_the_reason(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    settings = make_settings(tmp_path, corpus)
    with pytest.raises(UploadError, match=r"303 bytes long in UTF-8; names may have at most 255"):
        save_upload(settings, LONG_NAME, b"# Long\n")
    with pytest.raises(UploadError, match=r"folder name is 300 bytes long"):
        save_upload(settings, "ok.md", b"# Ok\n", folder="日" * 100)
    assert list(corpus.iterdir()) == []


def test_the_rest_of_a_batch_is_saved_after_a_name_over_255_bytes(kb: Settings) -> None:  # noqa: F811
    at = _upload(
        _signed_in_page(),
        ("first.md", b"# First\n", "text/markdown"),
        (LONG_NAME, b"# Long\n", "text/markdown"),
        ("last.md", b"# Last\n", "text/markdown"),
    )
    corpus = kb.paths.corpus_dir
    assert (corpus / "first.md").exists() and (corpus / "last.md").exists()
    errors = " ".join(_messages(at, "error"))
    assert "names may have at most 255 bytes" in errors, errors
    successes = " ".join(_messages(at, "success"))
    assert "first.md added" in successes and "last.md added" in successes
