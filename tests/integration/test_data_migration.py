"""A real index built at the old default place (vectorstore/data) is moved and used at data/.

The old version's layout is made by `kbchat ingest` with the old defaults set explicitly
(the index, and the embedder's ONNX export inside it); then `kbchat` runs with the defaults,
as after an upgrade, from the same working directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def kbchat_in(cwd: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m kbchat ARGS`` run from ``cwd`` (where the relative defaults point)."""
    return subprocess.run(
        [sys.executable, "-m", "kbchat", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_an_old_index_moves_once_and_is_searched_and_synced_at_the_new_place(
    tmp_path: Path, small_corpus: Path
) -> None:
    corpus = {"KBCHAT_CORPUS_DIR": str(small_corpus)}
    old_defaults = {
        **corpus,
        "KBCHAT_INDEX_DIR": "vectorstore/data",
        "KBCHAT_EMBEDDING_CACHE_DIR": "vectorstore/data/embedder-cache",
    }
    built = kbchat_in(tmp_path, ["ingest", "--json"], old_defaults)
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["files_added"] == 6
    old = tmp_path / "vectorstore" / "data"
    assert (old / "manifest.sqlite3").is_file() and (old / "chroma").is_dir()
    export = sorted(p.relative_to(old) for p in (old / "embedder-cache").rglob("*"))
    assert export  # the ONNX export the old version made

    found = kbchat_in(tmp_path, ["search", "how many days of annual leave", "--json"], corpus)
    assert found.returncode == 0, found.stderr
    new = tmp_path / "data" / "index"
    assert f"Moved {old} to {new}" in found.stderr
    assert f"Moved {old / 'embedder-cache'} to {tmp_path / 'data' / 'embedder-cache'}" in (
        found.stderr
    )
    assert not old.exists()
    first = json.loads(found.stdout)["passages"][0]
    assert first["source"] == "hr/leave.md" and "27 days" in first["text"]
    moved_export = sorted(
        Path("embedder-cache") / p.relative_to(tmp_path / "data" / "embedder-cache")
        for p in (tmp_path / "data" / "embedder-cache").rglob("*")
    )
    assert moved_export == export

    # The manifest moved with the index: a sync finds every file unchanged, embeds nothing.
    again = kbchat_in(tmp_path, ["ingest", "--json"], corpus)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["files_unchanged"], report["files_added"], report["chunks_added"]) == (6, 0, 0)
    assert "Moved" not in again.stderr and "in both" not in again.stderr
    assert (new / "manifest.sqlite3").is_file() and not (new / "embedder-cache").exists()
