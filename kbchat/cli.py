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


def _where(source: str, section: str | None, page: int | None) -> str:
    text = source + (f" › {section}" if section else "")
    return text + (f" (page {page})" if page else "")


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print passages and answer as JSON.")
@click.pass_obj
def ask(settings: Settings, question: str, as_json: bool) -> None:
    """Answer a question from the documents with the private model, citing passages.

    The answer streams as it is written; the sources cited follow it. When the configured
    model (Llama 2 7B Chat by default) is not present, the packaged SmolLM2 answers and a
    notice says so.

    \b
    Examples:
      kbchat ask "How many days of annual leave do I get?"
      kbchat ask "Who approves a purchase order of 12,000 pounds?" --json
    """
    from kbchat.assistant import private_answerer
    from kbchat.knowledge import passage_dict

    if not question.strip():
        raise click.BadParameter("the question is empty", param_hint="QUESTION")
    with _user_errors():
        answerer, _resolved = private_answerer(settings)
        if answerer.index.count() == 0:
            from kbchat.errors import IndexEmptyError

            raise IndexEmptyError()
        retrieval = answerer.retrieve(question)
        if answerer.notice and not as_json:
            click.echo(f"Note: {answerer.notice}", err=True)

        def waiting(ahead: int) -> None:
            if not as_json:
                click.echo(f"(waiting for the model: {ahead} request(s) ahead)", err=True)

        stream = answerer.stream(retrieval, on_wait=waiting)
        for delta in stream:
            if not as_json:
                click.echo(delta, nl=False)
        answer = stream.answer
    if as_json:
        _emit_json(
            {
                "question": question,
                "passages": [passage_dict(p.hit, p.n) for p in retrieval.passages],
                "retrieval_s": round(retrieval.seconds, 3),
                "answers": [answer.to_dict()],
            }
        )
        return
    click.echo()
    if answer.citations:
        click.echo("\nSources:")
        for c in answer.citations:
            click.echo(f"  [{c.n}] {_where(c.source, c.section, c.page)}")
    stats = answer.stats
    if stats is not None:
        rate = f", {stats.tokens_per_s:.1f} tokens/s" if stats.tokens_per_s else ""
        first = f"first token {stats.ttft_s:.2f} s, " if stats.ttft_s is not None else ""
        click.echo(
            f"\n({answer.model}: {first}{stats.seconds:.2f} s in all{rate}; "
            f"retrieval {retrieval.seconds:.2f} s)",
            err=True,
        )


@main.group()
def models() -> None:
    """The private model: list what is configured and present, fetch Llama 2 7B Chat."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_obj
def models_list(settings: Settings, as_json: bool) -> None:
    """Show the configured model, the packaged stand-in, and which one answers."""
    from kbchat.llm.models import list_models

    rows = list_models(settings.local)
    if as_json:
        _emit_json([{**row.__dict__, "path": str(row.path) if row.path else None} for row in rows])
        return
    for row in rows:
        state = "in use" if row.in_use else ("present" if row.present else "missing")
        if row.in_use and row.fallback:
            state = "in use (stand-in)"
        where = row.url or (str(row.path) if row.path else "")
        size = f", {row.size_bytes / 1e9:.2f} GB" if row.size_bytes else ""
        click.echo(f"{row.name:<28} {state:<18} {where}{size}")


@models.command("pull")
@click.pass_obj
def models_pull(settings: Settings) -> None:
    """Download Llama 2 7B Chat (GGUF, Q4_K_M, about 4 GB) into KBCHAT_MODELS_DIR.

    Resumes an interrupted download. Set HF_ENDPOINT to use a mirror and HF_TOKEN if it
    needs a token.
    """
    from kbchat.llm.models import pull_llama2

    with _user_errors():
        path = pull_llama2(settings.local.models_dir, progress=sys.stderr.isatty())
    click.echo(f"Llama 2 7B Chat is at {path}.")
    if settings.local.local_model_path and settings.local.local_model_path != path:
        click.echo(
            f"Note: KBCHAT_LOCAL_MODEL_PATH points at {settings.local.local_model_path}; "
            "unset it to use the downloaded model.",
            err=True,
        )


def run(argv: list[str] | None = None, *, standalone: bool = True) -> Callable[..., Any] | Any:
    """Run the CLI (used by tests to call it in-process)."""
    return main.main(args=argv, prog_name="kbchat", standalone_mode=standalone)
