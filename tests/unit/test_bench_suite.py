"""The benchmark suite runner: its table, the README block, and a failing script."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from benchmarks._report import RESULTS_ENV, read_figures, report
from benchmarks._suite import (
    END_MARKER,
    START_MARKER,
    Outcome,
    discover,
    main,
    markdown_table,
    rewrite_readme,
    select,
    summary_block,
)

pytestmark = pytest.mark.unit

README_TEXT = f"""# project

Intro that must stay.

## Benchmarks

Run `make bench`.

{START_MARKER}
old header

| area | figure | value | note / target | script |
|---|---|---|---|---|
| search | stale | 99 ms | | old.py |
{END_MARKER}

Text after the table, also kept.
"""


def _reported(path: Path, monkeypatch: pytest.MonkeyPatch, *figures: tuple[str, ...]) -> Path:
    """``figures`` written to ``path`` by the real `report`, as a script run by the suite."""
    monkeypatch.setenv(RESULTS_ENV, str(path))
    for figure in figures:
        report(*figure)
    monkeypatch.delenv(RESULTS_ENV)
    return path


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row (an escaped ``\\|`` stays inside its cell)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_report_without_the_suite_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    report("search", "latency", "1 ms")
    assert list(tmp_path.iterdir()) == []


def test_figures_of_two_result_files_are_in_one_aligned_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = _reported(
        tmp_path / "ui_memory.jsonl",
        monkeypatch,
        ("memory", "UI process peak RSS, model loaded", "906 MiB", "model file 0.09 GiB"),
    )
    ingest = _reported(
        tmp_path / "ingest_and_search.jsonl",
        monkeypatch,
        ("ingestion", "pipeline / raw encode", "0.95", "target >= 0.85"),
        ("search", "hybrid search @ 10k chunks", "p50 15.8 ms, p95 19.1 ms", "a | b"),
    )
    outcomes = [
        Outcome("ui_memory.py", 0, 40.0, read_figures(memory, "ui_memory.py")),
        Outcome("ingest_and_search.py", 0, 300.0, read_figures(ingest, "ingest_and_search.py")),
    ]

    block = summary_block(outcomes, "**2026-11-29**, test machine")

    header, blank, *table = block.splitlines()
    assert header == "**2026-11-29**, test machine" and blank == ""
    assert _cells(table[0]) == ["area", "figure", "value", "note / target", "script"]
    assert set(table[1]) == {"|", "-"}
    assert [_cells(line) for line in table[2:]] == [
        ["ingestion", "pipeline / raw encode", "0.95", "target >= 0.85", "ingest_and_search.py"],
        [
            "search",
            "hybrid search @ 10k chunks",
            "p50 15.8 ms, p95 19.1 ms",
            "a \\| b",  # a pipe in a cell is escaped, so it does not start a new cell
            "ingest_and_search.py",
        ],
        [
            "memory",
            "UI process peak RSS, model loaded",
            "906 MiB",
            "model file 0.09 GiB",
            "ui_memory.py",
        ],
    ]  # areas in the issue's order (ingestion, search, ..., memory), not the scripts' order
    assert len({len(line) for line in table}) == 1, "the columns are not aligned"


def test_markdown_table_pads_every_cell_to_its_column() -> None:
    table = markdown_table([("a", "bb", 3), ("cccc", "d", "")], columns=("x", "y", "z"))
    assert table.splitlines() == [
        "| x    | y   | z   |",
        "|------|-----|-----|",
        "| a    | bb  | 3   |",
        "| cccc | d   |     |",
    ]


def test_readme_block_is_replaced_and_the_text_around_it_kept() -> None:
    block = "**new** header\n\n| area |\n|---|\n| x |"
    updated = rewrite_readme(README_TEXT, block)
    before, after = README_TEXT.split(START_MARKER)[0], README_TEXT.split(END_MARKER)[1]
    assert updated.startswith(before + START_MARKER + "\n" + block + "\n" + END_MARKER)
    assert updated.endswith(END_MARKER + after)
    assert "stale" not in updated and "old header" not in updated
    assert rewrite_readme(updated, block) == updated  # a second run changes nothing more


@pytest.mark.parametrize(
    "text",
    [
        "no markers at all\n",
        f"{START_MARKER}\nonly the start\n",
        f"{END_MARKER}\nwrong order\n{START_MARKER}\n",
        f"{START_MARKER}\n{END_MARKER}\n{START_MARKER}\n{END_MARKER}\n",
    ],
)
def test_readme_without_one_pair_of_markers_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="README"):
        rewrite_readme(text, "block")


def test_scripts_are_found_and_selected_by_name(tmp_path: Path) -> None:
    for name in ("b_two.py", "a_one.py", "_helper.py", "notes.txt"):
        (tmp_path / name).write_text("", encoding="utf-8")
    scripts = discover(tmp_path)
    assert [p.name for p in scripts] == ["a_one.py", "b_two.py"]
    assert [p.name for p in select(scripts, ["b_two.py", "a_one"])] == ["a_one.py", "b_two.py"]
    with pytest.raises(ValueError, match="no benchmark named nope; there are: a_one, b_two"):
        select(scripts, ["nope"])


def test_a_failing_script_shows_as_failed_the_others_still_run_and_the_status_is_1(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    scripts = tmp_path / "benchmarks"
    scripts.mkdir()
    _script(
        scripts,
        "a_fast.py",
        """
        from benchmarks._report import report
        print("a_fast detailed output")
        report("search", "fake latency", "1.5 ms", "p50")
        """,
    )
    _script(
        scripts,
        "b_broken.py",
        """
        import sys
        from benchmarks._report import report
        report("ingestion", "reported before failing", "7 chunks/s")
        sys.exit(3)
        """,
    )
    _script(
        scripts,
        "c_after.py",
        """
        from benchmarks._report import report
        report("memory", "fake peak", "12 MiB", "after the failure")
        """,
    )
    _script(scripts, "d_silent.py", "print('no figures here')\n")
    readme = tmp_path / "README.md"
    readme.write_text(README_TEXT, encoding="utf-8")

    status = main(["--readme"], scripts_dir=scripts, readme=readme)

    out = capfd.readouterr().out
    assert status == 1
    assert "a_fast detailed output" in out  # each script's own output streams through
    table = out[out.index("| area") :]
    rows = {tuple(_cells(line)) for line in table.splitlines() if line.startswith("| ")}
    assert ("search", "fake latency", "1.5 ms", "p50", "a_fast.py") in rows
    assert ("ingestion", "reported before failing", "7 chunks/s", "", "b_broken.py") in rows
    assert ("memory", "fake peak", "12 MiB", "after the failure", "c_after.py") in rows
    assert (
        "FAILED",
        "exited with status 3",
        "—",
        "see the script's output",
        "b_broken.py",
    ) in rows
    assert ("—", "no figures reported", "—", "", "d_silent.py") in rows
    assert "1 of 4 scripts failed: b_broken.py" in out
    assert readme.read_text(encoding="utf-8") == README_TEXT  # a failed run keeps the README


def test_a_successful_run_writes_its_table_into_the_readme(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    scripts = tmp_path / "benchmarks"
    scripts.mkdir()
    _script(
        scripts,
        "only.py",
        """
        from benchmarks._report import report
        report("compare", "compare wall time / slower answer", "0.94", "target about 1")
        """,
    )
    readme = tmp_path / "README.md"
    readme.write_text(README_TEXT, encoding="utf-8")

    assert main(["--readme"], scripts_dir=scripts, readme=readme) == 0

    text = readme.read_text(encoding="utf-8")
    inside = text.split(START_MARKER)[1].split(END_MARKER)[0]
    assert "compare wall time / slower answer" in inside and "| 0.94 " in inside
    assert "cores" in inside and "private model" in inside  # the machine and model line
    assert "stale" not in text
    assert text.split(START_MARKER)[0] == README_TEXT.split(START_MARKER)[0]
    assert text.split(END_MARKER)[1] == README_TEXT.split(END_MARKER)[1]
    assert inside.strip() in capfd.readouterr().out  # the README gets what was printed


def test_readme_and_only_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["--readme", "--only", "x"], scripts_dir=tmp_path, readme=tmp_path / "README.md")
