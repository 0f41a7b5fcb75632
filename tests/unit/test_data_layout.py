"""Runtime data under data/, and the one-time move of an index from vectorstore/data.

Real folders in ``tmp_path`` (the working directory, as the defaults are relative to it);
the move runs as the settings are loaded, as it does for every front end. The index here is a
folder with an index's files in it; tests/integration/test_data_migration.py moves a real one.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbchat.cli import main
from kbchat.data_layout import DataMigrationError, looks_like_index
from kbchat.settings_loading import load_settings

LOAD = "from kbchat.settings_loading import load_settings; load_settings()"

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
OLD = Path("vectorstore/data")
NEW = Path("data/index")


def old_layout(root: Path, *, cache: bool = True, bench: bool = True) -> dict[str, bytes]:
    """An index as the old default placed it, with its caches inside; its files by path."""
    files = {
        "manifest.sqlite3": b"manifest",
        "keyword.sqlite3": b"keyword",
        "ledger.sqlite3": b"ledger",
        "chroma/chroma.sqlite3": b"chroma",
    }
    if cache:
        files["embedder-cache/model-int8/model.onnx"] = b"onnx"
    if bench:
        files["bench-cache/retrieval_variants/vectors.sqlite3"] = b"vectors"
    for name, content in files.items():
        path = root / OLD / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its content."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_defaults_are_under_the_top_level_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.paths.index_dir == NEW
    assert settings.index.embedding_cache_dir == Path("data/embedder-cache")
    assert not (tmp_path / "data").exists()  # nothing to move: nothing is made


def test_data_folder_is_ignored_but_tests_data_is_not() -> None:
    def ignored(path: str) -> bool:
        done = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        return done.returncode == 0

    assert ignored("data/index/manifest.sqlite3")
    assert ignored("vectorstore/data/manifest.sqlite3")  # an un-migrated checkout stays clean
    assert not ignored("tests/data/redaction_cases.jsonl")


def test_an_old_index_and_its_caches_move_to_the_new_places(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    old_layout(tmp_path)
    with caplog.at_level(logging.WARNING, logger="kbchat.data_layout"):
        settings = load_settings()
    assert settings.paths.index_dir == NEW
    assert tree(tmp_path / NEW) == {
        "manifest.sqlite3": b"manifest",
        "keyword.sqlite3": b"keyword",
        "ledger.sqlite3": b"ledger",
        "chroma/chroma.sqlite3": b"chroma",
    }
    assert tree(tmp_path / "data/embedder-cache") == {"model-int8/model.onnx": b"onnx"}
    assert tree(tmp_path / "data/bench-cache") == {"retrieval_variants/vectors.sqlite3": b"vectors"}
    assert not (tmp_path / OLD).exists()
    moved = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Moved")]
    assert f"Moved {tmp_path / OLD} to {tmp_path / NEW} (kbchat's data now lives in data/)" in moved
    assert len(moved) == 3  # index, embedder cache, benchmarks' cache: one line each

    caplog.clear()
    load_settings()  # loaded again (the UI does, on every rerun): nothing more happens
    assert tree(tmp_path / NEW)["manifest.sqlite3"] == b"manifest"
    assert not caplog.records


def test_nothing_moves_when_the_index_folder_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    files = old_layout(tmp_path, cache=False)
    for value in (str(OLD), "elsewhere", str(tmp_path / "other")):
        monkeypatch.setenv("KBCHAT_INDEX_DIR", value)
        with caplog.at_level(logging.WARNING, logger="kbchat.data_layout"):
            settings = load_settings()
        assert settings.paths.index_dir == Path(value)
        assert tree(tmp_path / OLD) == files
        assert not (tmp_path / "data").exists()
        assert not caplog.records


def test_index_set_in_env_file_to_the_old_place_stays_there(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A `.env` copied from the old `.env.example` names vectorstore/data: it is used there."""
    monkeypatch.chdir(tmp_path)
    files = old_layout(tmp_path, cache=False, bench=False)
    (tmp_path / ".env").write_text(f"KBCHAT_INDEX_DIR={OLD}\n")
    assert load_settings().paths.index_dir == OLD
    assert tree(tmp_path / OLD) == files and not (tmp_path / NEW).exists()


def test_a_set_embedder_cache_stays_where_it_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    old_layout(tmp_path, bench=False)
    monkeypatch.setenv("KBCHAT_INDEX_DIR", str(OLD))  # so the index does not carry it along
    monkeypatch.setenv("KBCHAT_EMBEDDING_CACHE_DIR", str(OLD / "embedder-cache"))
    load_settings()
    assert (tmp_path / OLD / "embedder-cache/model-int8/model.onnx").exists()
    assert not (tmp_path / "data").exists()


def test_when_both_exist_the_new_one_is_used_and_the_old_one_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    files = old_layout(tmp_path, cache=False, bench=False)
    (tmp_path / NEW).mkdir(parents=True)
    (tmp_path / NEW / "manifest.sqlite3").write_bytes(b"the new one")
    with caplog.at_level(logging.WARNING, logger="kbchat.data_layout"):
        settings = load_settings()
    assert settings.paths.index_dir == NEW
    assert tree(tmp_path / NEW) == {"manifest.sqlite3": b"the new one"}
    assert tree(tmp_path / OLD) == files
    [warning] = [r.getMessage() for r in caplog.records]
    assert f"in both {tmp_path / OLD} (the old default place) and {tmp_path / NEW}" in warning
    assert f"using {tmp_path / NEW}" in warning and "KBCHAT_INDEX_DIR=vectorstore/data" in warning


def test_a_folder_without_an_index_is_not_moved(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / OLD).mkdir(parents=True)
    (tmp_path / OLD / "notes.txt").write_text("not an index")
    assert not looks_like_index(tmp_path / OLD)
    load_settings()
    assert (tmp_path / OLD / "notes.txt").exists() and not (tmp_path / "data").exists()


def _other_filesystem(tmp_path: Path) -> Path:
    for candidate in (Path("/dev/shm"), Path("/run/user") / str(os.getuid())):
        writable = candidate.is_dir() and os.access(candidate, os.W_OK)
        if writable and os.stat(candidate).st_dev != os.stat(tmp_path).st_dev:
            return candidate
    pytest.skip("no writable folder on another filesystem than tmp_path")


def test_a_move_across_filesystems_fails_and_leaves_the_old_index_intact(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    files = old_layout(tmp_path, cache=False, bench=False)
    elsewhere = _other_filesystem(tmp_path) / f"kbchat-test-{os.getpid()}-{tmp_path.name}"
    elsewhere.mkdir()
    try:
        (tmp_path / "data").symlink_to(elsewhere)  # data/ is on another filesystem
        with pytest.raises(DataMigrationError) as raised:
            load_settings()
        message = str(raised.value)
        assert f"Could not move {tmp_path / OLD} to {tmp_path / NEW}" in message
        assert "is intact" in message and "KBCHAT_INDEX_DIR=vectorstore/data" in message
        assert tree(tmp_path / OLD) == files
        assert list(elsewhere.iterdir()) == []  # nothing half-copied
    finally:
        for path in sorted(elsewhere.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        elsewhere.rmdir()


def test_a_failed_move_is_one_line_from_the_cli_and_is_tried_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    files = old_layout(tmp_path, cache=False, bench=False)
    (tmp_path / "data").write_text("a file where the data folder should be")
    done = CliRunner().invoke(main, ["stats"])
    assert done.exit_code == 1
    assert f"Error: Could not move {tmp_path / OLD} to {tmp_path / NEW}" in done.output
    assert tree(tmp_path / OLD) == files

    (tmp_path / "data").unlink()  # the user fixes it; the next start moves the index
    load_settings()
    assert tree(tmp_path / NEW) == files and not (tmp_path / OLD).exists()


CHILD = """
import sys, time
from pathlib import Path
import kbchat.settings_loading
Path(f"ready-{sys.argv[1]}").touch()
while not Path("go").exists():
    time.sleep(0.002)
print(kbchat.settings_loading.load_settings().paths.index_dir)
"""


def test_processes_starting_at_once_move_it_once(tmp_path: Path) -> None:
    files = old_layout(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(n)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    # Each child imports kbchat first (the slow part); all load settings when "go" appears.
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0, 0, 0], outputs
    assert all(out.strip() == "data/index" for out, _err in outputs)
    stderr = "".join(err for _out, err in outputs)
    assert stderr.count(f"Moved {tmp_path / OLD} to {tmp_path / NEW}") == 1, stderr
    assert "in both" not in stderr
    assert moved_files(tmp_path) == files


def moved_files(root: Path) -> dict[str, bytes]:
    """The files of the index and its caches at their new places, by their old paths."""
    files = tree(root / NEW)
    for cache in ("embedder-cache", "bench-cache"):
        files.update({f"{cache}/{k}": v for k, v in tree(root / "data" / cache).items()})
    return files


def test_the_loser_of_a_rename_race_leaves_everything_as_the_winner_made_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process moves the folders between this one's checks and its own rename.

    The other process is real (a child loading the settings, which moves everything); only the
    moment it runs is forced, by running it from inside this process's first rename.
    """
    monkeypatch.chdir(tmp_path)
    files = old_layout(tmp_path)
    real_rename = os.rename
    winners: list[subprocess.CompletedProcess[str]] = []

    def rename_after_another_process(old: Path, new: Path) -> None:
        if not winners:
            winners.append(
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        "from kbchat.settings_loading import load_settings; load_settings()",
                    ],
                    cwd=tmp_path,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
            )
        real_rename(old, new)

    monkeypatch.setattr("kbchat.data_layout.os.rename", rename_after_another_process)
    with caplog.at_level(logging.WARNING, logger="kbchat.data_layout"):
        assert load_settings().paths.index_dir == NEW
    [winner] = winners
    assert winner.returncode == 0 and winner.stderr.count("Moved ") == 3, winner.stderr
    assert moved_files(tmp_path) == files
    assert not caplog.records  # this process moved nothing and has nothing to warn about
