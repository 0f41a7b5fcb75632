"""Run the benchmark scripts and print one table of their headline figures (`make bench`).

Every ``benchmarks/*.py`` whose name does not start with ``_`` runs in its own process, one
after another, from the project root; its own output streams through under a ``== script``
header. The figures a script passes to `benchmarks._report.report` are collected
(``KBCHAT_BENCH_RESULTS`` names a temporary file per script) and printed at the end as one
aligned Markdown table (area | figure | value | note / target | script), headed by the date,
the machine (CPU model, cores, RAM, OS, Python, load average) and the private model. A script
that fails does not stop the others: it shows in the table as failed, next to whatever figures
it reported first, and the suite exits with status 1.

Usage: python benchmarks/_suite.py [--only NAME ...] [--readme]

  --only NAME ...  run only these scripts, named with or without ``.py``
                   (``--only ingest_and_search ui_memory``)
  --readme         also write the block (header line and table) into README.md between
                   ``<!-- bench-table:start -->`` and ``<!-- bench-table:end -->``; only for a
                   run of the whole suite in which every script succeeded, so the README never
                   loses figures or shows a failed run

``make bench`` runs the whole suite; ``make bench BENCH_ARGS=--readme`` also updates the README.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import RESULTS_ENV, Figure, read_figures  # noqa: E402

BENCH_DIR = ROOT / "benchmarks"
README = ROOT / "README.md"
START_MARKER = "<!-- bench-table:start -->"
END_MARKER = "<!-- bench-table:end -->"
COLUMNS = ("area", "figure", "value", "note / target", "script")
# Rows are grouped by area in this order (the order of the issue); other areas follow.
AREA_ORDER = ("ingestion", "search", "retrieval", "embedding", "answering", "compare", "memory")


@dataclass
class Outcome:
    """What one script did: its exit status, run time and the figures it reported."""

    script: str  # file name, e.g. "ingest_and_search.py"
    returncode: int
    seconds: float
    figures: list[Figure] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.returncode != 0

    def failure(self) -> str:
        """How the script failed, e.g. ``exited with status 1``."""
        if self.returncode < 0:
            return f"killed by signal {-self.returncode}"
        return f"exited with status {self.returncode}"


def discover(folder: Path = BENCH_DIR) -> list[Path]:
    """The benchmark scripts of ``folder``: ``*.py`` not starting with ``_``, sorted."""
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))


def select(scripts: Sequence[Path], names: Sequence[str]) -> list[Path]:
    """The scripts named in ``names`` (with or without ``.py``), in the suite's order.

    Raises:
        ValueError: a name matches no script (the message lists the scripts there are).
    """
    by_stem = {p.stem: p for p in scripts}
    wanted = [name.removesuffix(".py") for name in names]
    unknown = [name for name in wanted if name not in by_stem]
    if unknown:
        raise ValueError(
            f"no benchmark named {', '.join(unknown)}; there are: {', '.join(sorted(by_stem))}"
        )
    return [p for p in scripts if p.stem in wanted]


def run_script(script: Path, results_dir: Path) -> Outcome:
    """Run one script from the project root, its output streamed through, and collect its
    figures from a results file of its own in ``results_dir``."""
    results = results_dir / f"{script.stem}.jsonl"
    env = dict(os.environ)
    env[RESULTS_ENV] = str(results)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    print(f"\n== {script.relative_to(script.parent.parent)}", flush=True)
    started = time.perf_counter()
    returncode = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env).returncode
    outcome = Outcome(script.name, returncode, time.perf_counter() - started)
    outcome.figures = read_figures(results, script.name)
    status = outcome.failure().upper() if outcome.failed else "done"
    print(f"== {script.name}: {status} in {outcome.seconds:.0f} s", flush=True)
    return outcome


def run_suite(scripts: Sequence[Path]) -> list[Outcome]:
    """Run the scripts one after another; a failing one does not stop the rest."""
    with tempfile.TemporaryDirectory(prefix="kbchat-bench-") as tmp:
        return [run_script(script, Path(tmp)) for script in scripts]


def table_rows(outcomes: Sequence[Outcome]) -> list[tuple[object, ...]]:
    """The table's rows: figures grouped by area (in `AREA_ORDER`, then first seen), each
    area in the order the scripts reported; then one row per failed script or per script
    that reported nothing."""
    figures = [f for outcome in outcomes for f in outcome.figures]
    seen = list(dict.fromkeys(f.area for f in figures))
    order = [a for a in AREA_ORDER if a in seen] + [a for a in seen if a not in AREA_ORDER]
    rows: list[tuple[object, ...]] = [
        (f.area, f.name, f.value, f.note, f.script)
        for area in order
        for f in figures
        if f.area == area
    ]
    for outcome in outcomes:
        if outcome.failed:
            rows.append(
                ("FAILED", outcome.failure(), "—", "see the script's output", outcome.script)
            )
        elif not outcome.figures:
            rows.append(("—", "no figures reported", "—", "", outcome.script))
    return rows


def _cell(value: object) -> str:
    """One line of text, with ``|`` escaped (a value reported as a number becomes text)."""
    return " ".join(str(value).split()).replace("|", "\\|")


def markdown_table(rows: Sequence[Sequence[object]], columns: Sequence[str] = COLUMNS) -> str:
    """An aligned Markdown table (cells padded to their column's width)."""
    cells = [[_cell(c) for c in columns]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(3, *(len(row[i]) for row in cells)) for i in range(len(columns))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def summary_block(outcomes: Sequence[Outcome], header: str) -> str:
    """The header line, a blank line and the table: what is printed and kept in the README."""
    return f"{header}\n\n{markdown_table(table_rows(outcomes))}"


def rewrite_readme(text: str, block: str) -> str:
    """``text`` with everything between the bench-table markers replaced by ``block``.

    Raises:
        ValueError: the markers are missing, repeated or in the wrong order.
    """
    if text.count(START_MARKER) != 1 or text.count(END_MARKER) != 1:
        raise ValueError(
            f"README.md needs exactly one {START_MARKER} and one {END_MARKER} line "
            "where the table goes"
        )
    if text.index(END_MARKER) < text.index(START_MARKER):
        raise ValueError(f"{END_MARKER} comes before {START_MARKER} in README.md")
    head, rest = text.split(START_MARKER)
    _old, tail = rest.split(END_MARKER)
    return f"{head}{START_MARKER}\n{block}\n{END_MARKER}{tail}"


def machine() -> str:
    """CPU model, cores, RAM, OS and Python of this machine, as one phrase."""
    cpu = platform.processor() or platform.machine()
    ram = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                ram = f", {int(line.split()[1]) / 2**20:.1f} GiB RAM"
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                system = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return (
        f"{cpu} ({platform.machine()}), {os.cpu_count()} cores{ram}, {system}, "
        f"Python {platform.python_version()}"
    )


def private_model() -> str:
    """The private model the benchmarks answer with, as the settings resolve it here."""
    from pydantic import ValidationError

    from kbchat.errors import KbchatError
    from kbchat.llm.models import configured_model_name, resolve_local_model
    from kbchat.settings import Settings

    try:
        local = Settings().local
        resolved = resolve_local_model(local)
    except (KbchatError, ValidationError) as exc:
        return f"none usable ({exc})"
    size = resolved.path.stat().st_size / 2**30
    described = f"{resolved.name} ({resolved.path.name}, {size:.2f} GiB)"
    if resolved.fallback:
        configured = configured_model_name(local.resolved_model_path())
        described += f", standing in for {configured} (not present here)"
    return described


def header(started: datetime, seconds: float, load: tuple[float, float]) -> str:
    """The line above the table: when, where, with which model, how busy the machine was."""
    return (
        f"**{started:%Y-%m-%d %H:%M %Z}**, {machine()}; private model {private_model()}. "
        f"Load average (1 min) {load[0]:.2f} at the start, {load[1]:.2f} at the end; "
        f"the run took {f'{seconds:.0f} s' if seconds < 90 else f'{seconds / 60:.0f} min'}."
    )


def main(
    argv: Sequence[str] | None = None, *, scripts_dir: Path = BENCH_DIR, readme: Path = README
) -> int:
    """Run the suite as the command line asks; returns the exit status (1 if a script failed)."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these scripts")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args(argv)
    if args.readme and args.only:
        parser.error("--readme needs the whole suite: a partial run would drop figures")
    scripts = discover(scripts_dir)
    if args.only:
        try:
            scripts = select(scripts, args.only)
        except ValueError as exc:
            parser.error(str(exc))
    if args.readme:
        try:  # the markers are checked before a long run, not after it
            rewrite_readme(readme.read_text(encoding="utf-8"), "")
        except ValueError as exc:
            parser.error(str(exc))

    started = datetime.now().astimezone()
    load_start = os.getloadavg()[0]
    began = time.perf_counter()
    outcomes = run_suite(scripts)
    block = summary_block(
        outcomes, header(started, time.perf_counter() - began, (load_start, os.getloadavg()[0]))
    )
    print(f"\n{block}\n")
    failed = [o.script for o in outcomes if o.failed]
    if failed:
        print(f"{len(failed)} of {len(outcomes)} scripts failed: {', '.join(failed)}")
    if args.readme:
        if failed:
            print(f"{readme.name} not updated: a run with failures would replace good figures.")
        else:
            readme.write_text(
                rewrite_readme(readme.read_text(encoding="utf-8"), block), encoding="utf-8"
            )
            print(f"{readme.name} updated.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
