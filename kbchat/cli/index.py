"""``kbchat ingest`` (with ``--watch``), ``kbchat search`` and ``kbchat stats``: the index."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kbchat.cli.errors import user_errors
from kbchat.cli.options import acting_user_options
from kbchat.cli.output import emit_json
from kbchat.errors import KbchatError
from kbchat.settings import Settings

if TYPE_CHECKING:
    from ingest.sync import IngestReport


class _ProgressBar:
    """A tqdm bar on a terminal's stderr; silent when stderr is not a terminal."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._phase = ""
        self.enabled = sys.stderr.isatty()

    def __call__(self, progress: Any) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if progress.phase != self._phase and progress.phase != "done":
            self.close()
            self._phase = progress.phase
            self._bar = tqdm(total=progress.total, desc=progress.phase, unit="file", leave=False)
        if self._bar is not None:
            self._bar.n = progress.done
            self._bar.set_postfix_str(progress.current[-40:], refresh=False)
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def run_watch(
    settings: Settings,
    path: Path | None,
    *,
    interval: float,
    full: bool = False,
    as_json: bool = False,
) -> None:
    """Watch the folder and ingest on every change until Ctrl-C (``kbchat ingest --watch``).

    Each run's summary is printed as it finishes (one JSON object per line with ``--json``);
    a run that cannot complete prints its reason on stderr and is retried.
    """
    from kbchat.ingestion import summary
    from kbchat.watch import watch

    folder = path or settings.paths.corpus_dir

    def report(result: IngestReport) -> None:
        click.echo(json.dumps(result.to_dict()) if as_json else summary(result))

    def error(err: KbchatError) -> None:
        click.echo(f"[{time.strftime('%H:%M:%S')}] not ingested: {err}", err=True)

    click.echo(f"Watching {folder} every {interval:g} s; Ctrl-C stops.", err=True)
    try:
        watch(settings, path, interval=interval, full=full, on_report=report, on_error=error)
    except KeyboardInterrupt:
        click.echo("Stopped watching.", err=True)


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--full", is_flag=True, help="Rebuild the index from nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--watch", is_flag=True, help="Keep the index in step with the folder until Ctrl-C.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between two looks at the folder (with --watch).",
)
@click.pass_obj
def ingest(
    settings: Settings, path: Path | None, full: bool, as_json: bool, watch: bool, interval: float
) -> None:
    """Bring the index in step with a folder of documents (incremental).

    PATH defaults to KBCHAT_CORPUS_DIR. New files are added, changed files replaced, deleted
    files removed. Files that cannot be read are reported as failed (what was indexed for them
    stays); files with nothing to index (empty, only front matter, a CSV header) are skipped,
    not failed, and their earlier passages removed.

    \b
    Examples:
      kbchat ingest
      kbchat ingest ./handbook --json
      kbchat ingest --full
      kbchat ingest --watch --interval 5
    """
    if watch:
        run_watch(settings, path, interval=interval, full=full, as_json=as_json)
        return
    from kbchat.ingestion import tracked_ingest

    bar = _ProgressBar()
    try:
        with user_errors():
            report = tracked_ingest(settings, path, full=full, progress=bar, origin="command line")
    finally:
        bar.close()
    if as_json:
        emit_json(report.to_dict())
        return
    corpus = path or settings.paths.corpus_dir
    for note in report.notes:
        click.echo(f"Note: {note}.")
    click.echo(
        f"Ingested {corpus} into {settings.paths.index_dir}: "
        f"{report.files_added} added, {report.files_updated} updated, "
        f"{report.files_removed} removed, {report.files_unchanged} unchanged; "
        f"+{report.chunks_added}/-{report.chunks_removed} chunks, "
        f"{report.chunks_total} in total, in {report.seconds:.1f} s."
    )
    if report.access_rewritten:
        click.echo(f"Access rewritten for {report.access_rewritten} document(s) (now in force).")
    for failure in report.failed:
        click.echo(f"  failed:  {failure['path']}: {failure['reason']}")
    for skip in report.skipped:
        click.echo(f"  skipped: {skip['path']}: {skip['reason']}")


@click.command()
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1, 100), default=None, help="Passages to return.")
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "dense", "keyword"]),
    default="hybrid",
    show_default=True,
    help="Retriever.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the passages as JSON.")
@acting_user_options
@click.pass_obj
def search(
    settings: Settings, query: str, k: int | None, mode: str, as_json: bool, user: Any
) -> None:
    """Search the knowledge base (dense + BM25, fused).

    \b
    Examples:
      kbchat search "how many days of annual leave"
      kbchat search "VPN client" -k 3 --json
    """
    from kbchat.answering.citations import location
    from kbchat.knowledge import passage_dict
    from kbchat.knowledge import search as run_search

    with user_errors():
        hits = run_search(settings, query, k, mode=mode, reader=user)  # type: ignore[arg-type]
    passages = [passage_dict(hit, rank) for rank, hit in enumerate(hits, start=1)]
    if as_json:
        emit_json({"query": query, "passages": passages})
        return
    if not passages:
        click.echo("No passages found.")
    for p in passages:
        where = location(p["source"], p["section"], p["page"])
        click.echo(f"[{p['rank']}] {where}  [{p['sensitivity']}]  score {p['score']:.4f}")
        click.echo(textwrap.indent(textwrap.shorten(p["text"], 300), "    "))


def _size(n: int | None) -> str:
    if n is None:
        return "n/a (server)"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n = n / 1024  # type: ignore[assignment]
    return str(n)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_obj
def stats(settings: Settings, as_json: bool) -> None:
    """Documents, chunks, sensitivity labels, index size, embedder, last ingestion."""
    from kbchat.knowledge import stats as get_stats

    with user_errors():
        figures = get_stats(settings)
    if as_json:
        emit_json(figures.to_dict())
        return
    lines: list[tuple[str, str]] = [
        ("documents", str(figures.documents)),
        ("chunks", str(figures.chunks)),
    ]
    for label, counts in figures.by_sensitivity.items():
        lines.append((f"  {label}", f"{counts['documents']} documents, {counts['chunks']} chunks"))
    lines += [
        ("index", f"{figures.index_location}, {_size(figures.index_bytes)}"),
        ("embedder", figures.embedder),
        ("last ingest", figures.last_ingest or "never"),
        ("failed files", str(figures.failed_files)),
        ("ingestion running", "yes" if figures.ingest_running else "no"),
    ]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        click.echo(f"{key.ljust(width)}  {value}")
