"""The command contract of `kbchat ingest`, `kbchat search` and `kbchat stats`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.fixtures.chroma_server import start_chroma_server
from tests.fixtures.cli import kbchat

pytestmark = pytest.mark.integration


def test_ingest_search_stats_json_contract(tmp_path: Path, small_corpus: Path) -> None:
    env = {"KBCHAT_CORPUS_DIR": str(small_corpus), "KBCHAT_INDEX_DIR": str(tmp_path / "idx")}
    (small_corpus / "notes.xyz").write_text("unsupported")
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (small_corpus / "staff.csv").write_text("name,room\n")  # nothing to index: not a failure
    done = kbchat(["ingest", "--json"], env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {
        "files_added",
        "files_updated",
        "files_removed",
        "files_unchanged",
        "chunks_added",
        "chunks_removed",
        "chunks_total",
        "failed",
        "skipped",
        "seconds",
        "notes",
        "access_rewritten",
    }
    assert report["files_added"] == 6 and report["notes"] == []
    [failed] = report["failed"]
    assert failed["path"] == "broken.pdf" and failed["reason"]
    no_rows = "no text to index (a header row but no data rows)"
    assert report["skipped"] == [
        {"path": "notes.xyz", "reason": "unsupported file type .xyz"},
        {"path": "staff.csv", "reason": no_rows},
    ]

    found = kbchat(["search", "how many days of annual leave", "-k", "2", "--json"], env)
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert result["query"] == "how many days of annual leave"
    assert len(result["passages"]) == 2
    first = result["passages"][0]
    assert set(first) == {
        "rank",
        "chunk_id",
        "source",
        "section",
        "page",
        "sensitivity",
        "score",
        "text",
    }
    assert (first["rank"], first["source"], first["sensitivity"]) == (1, "hr/leave.md", "internal")
    assert "27 days" in first["text"]

    figures = kbchat(["stats", "--json"], env)
    assert figures.returncode == 0, figures.stderr
    stats = json.loads(figures.stdout)
    assert stats["documents"] == 6 and stats["chunks"] == report["chunks_total"]
    assert stats["by_sensitivity"]["confidential"]["documents"] == 1
    assert stats["embedder"] and stats["last_ingest"]
    assert stats["failed_files"] == 1

    human = kbchat(["ingest"], env)
    assert human.returncode == 0
    assert "6 unchanged" in human.stdout and "failed:  broken.pdf" in human.stdout
    assert f"skipped: staff.csv: {no_rows}" in human.stdout
    assert "failed:  staff.csv" not in human.stdout


def test_run_level_failures_exit_non_zero_with_a_reason(tmp_path: Path) -> None:
    env = {"KBCHAT_CORPUS_DIR": str(tmp_path / "missing"), "KBCHAT_INDEX_DIR": str(tmp_path / "i")}
    done = kbchat(["ingest"], env)
    assert done.returncode != 0
    assert "does not exist" in done.stderr and "KBCHAT_CORPUS_DIR" in done.stderr
    empty = kbchat(["search", "anything"], env)
    assert empty.returncode != 0 and "run ingestion first" in empty.stderr
    bad = kbchat(["stats"], {**env, "KBCHAT_CHUNK_SIZE": "huge"})
    assert bad.returncode != 0 and "chunk_size" in bad.stderr


def test_chroma_server_mode(tmp_path: Path, small_corpus: Path) -> None:
    with start_chroma_server(tmp_path / "server-data") as (host, port):
        env = {
            "KBCHAT_CORPUS_DIR": str(small_corpus),
            "KBCHAT_INDEX_DIR": str(tmp_path / "idx"),
            "KBCHAT_CHROMA_HOST": host,
            "KBCHAT_CHROMA_PORT": str(port),
        }
        first = kbchat(["ingest", "--json"], env)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["files_added"] == 6
        assert not (tmp_path / "idx" / "chroma").exists(), "vectors went to the server"
        (small_corpus / "it" / "printers.txt").unlink()
        second = json.loads(kbchat(["ingest", "--json"], env).stdout)
        assert second["files_removed"] == 1 and second["files_unchanged"] == 5
        hits = json.loads(kbchat(["search", "QuillonConnect VPN", "--json"], env).stdout)
        assert hits["passages"][0]["source"] == "it/vpn.txt"
        stats = json.loads(kbchat(["stats", "--json"], env).stdout)
        assert stats["index_location"] == f"chroma server http://{host}:{port}"
        assert stats["chunks"] == second["chunks_total"]
    down = kbchat(["ingest"], env)
    assert down.returncode != 0 and "Chroma" in down.stderr


def test_search_sees_what_another_process_ingested(tmp_path: Path, small_corpus: Path) -> None:
    from kbchat.knowledge import index_for, run_ingest
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, small_corpus)
    run_ingest(settings)
    index = index_for(settings)
    assert index.search("QuillonGuest", 1)[0].metadata["source"] != "it/wifi.md"
    (small_corpus / "it" / "wifi.md").write_text("# Wifi\n\nThe guest network is QuillonGuest.\n")
    shutil.rmtree(small_corpus / "hr")
    env = {"KBCHAT_CORPUS_DIR": str(small_corpus), "KBCHAT_INDEX_DIR": str(tmp_path / "index")}
    assert kbchat(["ingest"], env).returncode == 0
    dense = index.search("guest wireless network name", 3, mode="dense")
    assert dense[0].metadata["source"] == "it/wifi.md"
    assert all(
        not str(h.metadata["source"]).startswith("hr/") for h in index.search("annual leave", 5)
    )
