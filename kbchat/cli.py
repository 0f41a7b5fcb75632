"""The ``kbchat`` command line: thin, input checked, examples in the help."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from kbchat.errors import KbchatError
from kbchat.settings import Settings


def _emit_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in err.errors()
        )
        raise click.ClickException(f"Invalid settings (environment or .env): {problems}") from err


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn kbchat errors into a one-line message and exit status 1."""
    try:
        yield
    except KbchatError as err:
        raise click.ClickException(str(err)) from err


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """kbchat: ask questions of your company's documents, answered by a private model.

    \b
    Examples:
      kbchat ingest                 # sync the index with KBCHAT_CORPUS_DIR
      kbchat search "parental leave"
      kbchat stats
    """
    ctx.obj = _load_settings()


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--full", is_flag=True, help="Rebuild the index from nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_obj
def ingest(settings: Settings, path: Path | None, full: bool, as_json: bool) -> None:
    """Bring the index in step with a folder of documents (incremental).

    PATH defaults to KBCHAT_CORPUS_DIR. New files are added, changed files replaced, deleted
    files removed; files that cannot be read are reported and skipped.

    \b
    Examples:
      kbchat ingest
      kbchat ingest ./handbook --json
      kbchat ingest --full
    """
    from kbchat.knowledge import run_ingest

    bar = _ProgressBar()
    try:
        with _user_errors():
            report = run_ingest(settings, path, full=full, progress=bar)
    finally:
        bar.close()
    if as_json:
        _emit_json(report.to_dict())
        return
    corpus = path or settings.paths.corpus_dir
    click.echo(
        f"Ingested {corpus} into {settings.paths.index_dir}: "
        f"{report.files_added} added, {report.files_updated} updated, "
        f"{report.files_removed} removed, {report.files_unchanged} unchanged; "
        f"+{report.chunks_added}/-{report.chunks_removed} chunks, "
        f"{report.chunks_total} in total, in {report.seconds:.1f} s."
    )
    for failure in report.failed:
        click.echo(f"  failed:  {failure['path']}: {failure['reason']}")
    for skip in report.skipped:
        click.echo(f"  skipped: {skip['path']}: {skip['reason']}")


@main.command()
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
@click.pass_obj
def search(settings: Settings, query: str, k: int | None, mode: str, as_json: bool) -> None:
    """Search the knowledge base (dense + BM25, fused).

    \b
    Examples:
      kbchat search "how many days of annual leave"
      kbchat search "VPN client" -k 3 --json
    """
    from kbchat.knowledge import passage_dict
    from kbchat.knowledge import search as run_search

    with _user_errors():
        hits = run_search(settings, query, k, mode=mode)  # type: ignore[arg-type]
    passages = [passage_dict(hit, rank) for rank, hit in enumerate(hits, start=1)]
    if as_json:
        _emit_json({"query": query, "passages": passages})
        return
    if not passages:
        click.echo("No passages found.")
    for p in passages:
        where = p["source"] + (f" › {p['section']}" if p["section"] else "")
        where += f" (page {p['page']})" if p["page"] else ""
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


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_obj
def stats(settings: Settings, as_json: bool) -> None:
    """Documents, chunks, sensitivity labels, index size, embedder, last ingestion."""
    from kbchat.knowledge import stats as get_stats

    with _user_errors():
        figures = get_stats(settings)
    if as_json:
        _emit_json(figures.to_dict())
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


def run(argv: list[str] | None = None, *, standalone: bool = True) -> Callable[..., Any] | Any:
    """Run the CLI (used by tests to call it in-process)."""
    return main.main(args=argv, prog_name="kbchat", standalone_mode=standalone)
