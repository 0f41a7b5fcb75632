"""The ``kbchat`` command line: thin, input checked, examples in the help."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from kbchat.cli_answers import (
    ask_json,
    compared_answers,
    emit_json,
    print_both,
    print_figures,
    print_sources,
    stream_one,
)
from kbchat.cli_options import acting_user_options
from kbchat.errors import KbchatError
from kbchat.settings import Settings

if TYPE_CHECKING:
    from ingest.sync import IngestReport


def _load_settings() -> Settings:
    from kbchat.settings_loading import load_settings

    try:
        return load_settings()
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in err.errors()
        )
        raise click.ClickException(f"Invalid settings (environment or .env): {problems}") from err
    except KbchatError as err:  # the index could not move to its new default place
        raise click.ClickException(str(err)) from err


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


@main.command()
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
        with _user_errors():
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

    with _user_errors():
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


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_obj
def stats(settings: Settings, as_json: bool) -> None:
    """Documents, chunks, sensitivity labels, index size, embedder, last ingestion."""
    from kbchat.knowledge import stats as get_stats

    with _user_errors():
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


@main.command()
@click.argument("question")
@click.option(
    "--model",
    "which",
    type=click.Choice(["private", "cloud", "both"]),
    default="private",
    show_default=True,
    help="Who answers: the private model, the cloud model (when allowed), or both side by side.",
)
@click.option("--json", "as_json", is_flag=True, help="Print passages and answers as JSON.")
@acting_user_options
@click.pass_obj
def ask(settings: Settings, question: str, which: str, as_json: bool, user: Any) -> None:
    """Answer a question from the documents, citing passages.

    The private model answers by default; when the configured model (Llama 2 7B Chat) is not
    present, the packaged SmolLM2 answers and a notice says so. The cloud model answers only
    when an admin allows it, and never sees confidential passages or redacted values.

    \b
    Examples:
      kbchat ask "How many days of annual leave do I get?"
      kbchat ask "Who approves a purchase order of 12,000 pounds?" --json
      kbchat ask "What is the Team edition price?" --model both
      kbchat ask "What is the salary band of a grade 7?" --as bob --groups sales
    """
    from kbchat.assistant import Assistant

    if not question.strip():
        raise click.BadParameter("the question is empty", param_hint="QUESTION")
    with _user_errors():
        assistant = Assistant(settings)
        run = assistant.ask(question, user=user, models=which)  # type: ignore[arg-type]
        if which == "both":
            result = run.run()
            answers = compared_answers(
                result, assistant.private.backend.model_name, settings.cloud.cloud_model
            )
            print_both(result, answers, assistant.private.notice, as_json)
        else:
            _ask_one(run, which, assistant.private.notice, as_json)


def _ask_one(run: Any, side: str, notice: str | None, as_json: bool) -> None:
    """One model's answer, streamed to the terminal (or printed as JSON at the end)."""
    result = run.result
    if notice and side == "private" and not as_json:
        click.echo(f"Note: {notice}", err=True)
    stream_one(run, side, as_json)
    answer = getattr(result, side)
    if result.refused is not None and answer is None:
        if as_json:
            ask_json(result.retrieval, [], result.decision, refused=result.refused)
        raise click.ClickException(result.refused)
    if side in result.errors:
        raise click.ClickException(result.errors[side])
    if as_json:
        ask_json(result.retrieval, [answer], result.decision)
        return
    click.echo()
    print_sources(answer)
    print_figures(answer, result.retrieval.seconds)


class _EvalProgress:
    """A tqdm bar of questions on a terminal's stderr, with running figures."""

    def __init__(self, total: int, models: tuple[str, ...]) -> None:
        self.models = models
        self._bar: Any = None
        self._gold = self._hits = 0
        self._phrases: dict[str, list[int]] = {m: [0, 0] for m in models}
        self._failed = dict.fromkeys(models, 0)
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc="eval", unit="question", leave=False)

    def __call__(self, row: Any) -> None:
        if row.retrieval_scored:
            self._gold += 1
            self._hits += row.first_gold_rank is not None
        for label, answer in row.answers.items():
            self._failed[label] += answer.outcome == "failed"
            if answer.key_phrases_ok is not None:
                self._phrases[label][0] += answer.key_phrases_ok
                self._phrases[label][1] += 1
        if self._bar is None:
            return
        figures = [f"q{row.number}", f"recall {self._hits}/{self._gold}"]
        for label in self.models:
            found, asked = self._phrases[label]
            figures.append(f"{label} phrases {found}/{asked}")
            if self._failed[label]:
                figures.append(f"{label} failed {self._failed[label]}")
        self._bar.set_postfix_str(", ".join(figures), refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _print_eval_verdict(verdict: dict[str, Any]) -> None:
    overall = verdict["overall"]
    low, high = overall["ci_low"], overall["ci_high"]
    click.echo(
        f"Judge {verdict['judge_model']}: {verdict['judged']} judged, "
        f"{verdict['unparseable']} unparseable, {verdict['skipped']} skipped, "
        f"{verdict['failed']} failed. Private at least as good: wins {overall['wins']}, "
        f"ties {overall['ties']}, losses {overall['losses']}; 95% interval "
        f"{low:.0%}–{high:.0%}; verdict {overall['verdict']}"
        + (f" (about {overall['more_needed']} more needed)" if overall["more_needed"] else "")
        + "."
    )


@main.command("eval")
@click.argument("eval_file", metavar="FILE.jsonl", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--model",
    "which",
    type=click.Choice(["private", "cloud", "both"]),
    default="private",
    show_default=True,
    help="Who answers. 'both' runs the private model, then the cloud model, on each question, "
    "one after the other (so neither slows the other's timings), on the same passages.",
)
@click.option(
    "-k",
    "k",
    type=click.IntRange(1, 50),
    default=None,
    help="Passages retrieved per question and given to the models; recall is measured at k. "
    "Default: KBCHAT_TOP_K.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary and every row as JSON.")
@click.option(
    "--report",
    "report_paths",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a report: PATH.md for Markdown, PATH.html for a web page (may be given "
    "more than once).",
)
@click.option(
    "--retrieval-only",
    is_flag=True,
    help="Measure retrieval only (recall@k, MRR): no model is loaded or called. Fast.",
)
@click.option(
    "--judge",
    "with_judge",
    is_flag=True,
    help="With --model both: the judge model rates each pair of answers (both orders); the "
    "summary gains the verdict (see `kbchat report`).",
)
@acting_user_options
@click.pass_obj
def evaluate(
    settings: Settings,
    eval_file: Path,
    which: str,
    k: int | None,
    as_json: bool,
    report_paths: tuple[Path, ...],
    retrieval_only: bool,
    with_judge: bool,
    user: Any,
) -> None:
    """Measure retrieval and answers on a question set (JSON lines).

    Each line: {"question": str, "gold_files": [paths relative to the corpus],
    "answer_contains": [key phrases], "unanswerable": bool}; all but "question" optional.
    Reports recall@k and MRR once, and per model: answers containing all key phrases,
    refusal accuracy and false refusals, citation precision, groundedness, time to first
    token and total time (p50/p95), tokens and cost. The cloud model answers through the
    policy gate and the audit log, as in `kbchat ask`. A failed answer is recorded on its
    question and counted; the run goes on.

    \b
    Examples:
      kbchat eval eval/docs_corpus_questions.jsonl --retrieval-only
      kbchat eval eval/docs_corpus_questions.jsonl --report eval-report.md
      kbchat eval eval/docs_corpus_questions.jsonl --model both --report r.md --report r.html
      kbchat eval my_questions.jsonl --json > results.json
      kbchat eval eval/docs_corpus_questions.jsonl --model both --judge --json
    """
    from kbchat.evaluation import load_eval_set
    from kbchat.evaluation.report import render_text, report_format, write_report
    from kbchat.evaluation.runner import MODELS, EvalRunner

    with _user_errors():
        questions = load_eval_set(eval_file)
        for path in report_paths:
            report_format(path)  # a wrong extension is refused before any work
        models = () if retrieval_only else MODELS[which]
        if with_judge and (retrieval_only or which != "both"):
            raise click.UsageError("--judge needs both models' answers: use --model both.")
        runner = EvalRunner(
            settings,
            models=models,
            k=k,
            session=f"kbchat eval {eval_file.name}",
            judge=with_judge,
            user=user,
        )
        missing = runner.missing_gold_files(questions)
    if retrieval_only and which != "private":
        click.echo("Note: --retrieval-only: no model answers, --model is ignored.", err=True)
    if missing:
        click.echo(
            f"Warning: {len(missing)} gold file(s) are not in the index and can never be "
            f"retrieved: {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}",
            err=True,
        )
    progress = _EvalProgress(len(questions), models)
    try:
        with _user_errors():
            run = runner.run(questions, eval_set=str(eval_file), on_row=progress)
    finally:
        progress.close()
    with _user_errors():
        for path in report_paths:
            write_report(run, path)
    if as_json:
        emit_json(run.to_dict())
    else:
        click.echo(render_text(run))
        if run.judge_model:
            _print_eval_verdict(run.summary()["verdict"])
    failed = {m: run.model(m).failed for m in run.models}
    if any(failed.values()):
        counts = ", ".join(f"{m} {n}" for m, n in failed.items() if n)
        click.echo(f"Failed answers (recorded on their rows): {counts}.", err=True)
    for path in report_paths:
        click.echo(f"Report written to {path}.", err=True)
    if run.interrupted:
        click.echo(
            f"Interrupted after {len(run.rows)} of {len(questions)} questions: the figures "
            "cover those.",
            err=True,
        )
        sys.exit(130)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option(
    "--event",
    type=click.Choice(
        [
            "cloud_call",
            "gate_refused",
            "setting_changed",
            "document_changed",
            "admin_sign_in",
            "judge_call",
        ]
    ),
    help="Only this kind of event.",
)
@click.option("--user", "user_id", metavar="USER", help="Only the rows of this user id.")
@click.pass_obj
def audit(
    settings: Settings, as_json: bool, limit: int, event: str | None, user_id: str | None
) -> None:
    """The audit log: cloud calls, refusals by the policy gate, admin changes (newest first)."""
    from kbchat.audit import audit_for

    rows = audit_for(settings).entries(limit, event=event, user=user_id)
    if as_json:
        emit_json([row.to_dict() for row in rows])
        return
    if not rows:
        click.echo("The audit log is empty.")
    for row in rows:
        figures = ""
        if row.tokens_in is not None:
            figures = f" tokens {row.tokens_in}/{row.tokens_out}"
            if row.cost_usd is not None:
                figures += f" ${row.cost_usd:.5f}"
        who = f" [{row.user}]" if row.user else ""
        click.echo(f"{row.at} {row.event:<16} {row.outcome}{figures}{who}")
        if row.question:
            click.echo(f"    question: {textwrap.shorten(row.question, 90)}")
        if row.passages_sent or row.passages_withheld:
            click.echo(
                f"    passages sent {len(row.passages_sent)}, withheld {len(row.passages_withheld)}"
                + (f", redactions {row.redactions}" if row.redactions else "")
            )
        if row.detail:
            click.echo(f"    {row.detail}")


@main.group()
def models() -> None:
    """The private model: list what is configured and present, fetch Llama 2 7B Chat."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_obj
def models_list(settings: Settings, as_json: bool) -> None:
    """Show the configured model, the packaged stand-in, and which one answers."""
    from kbchat.llm.models import list_models

    rows = list_models(settings.local, settings.private_server)
    if as_json:
        engine = settings.local.local_engine
        emit_json(
            [
                {**row.__dict__, "path": str(row.path) if row.path else None, "engine": engine}
                for row in rows
            ]
        )
        return
    for row in rows:
        state = "in use" if row.in_use else ("present" if row.present else "missing")
        if row.in_use and row.fallback:
            state = "in use (stand-in)"
        where = row.url or (str(row.path) if row.path else "")
        size = f", {row.size_bytes / 1e9:.2f} GB" if row.size_bytes else ""
        click.echo(f"{row.name:<28} {state:<18} {where}{size}")
    click.echo(f"engine: {settings.local.local_engine} (KBCHAT_LOCAL_ENGINE)")


@models.command("pull")
@click.pass_obj
def models_pull(settings: Settings) -> None:
    """Download Llama 2 7B Chat (GGUF, Q4_K_M, about 4 GB) into KBCHAT_MODELS_DIR.

    Resumes an interrupted download. Set HF_ENDPOINT to use a mirror and HF_TOKEN if it
    needs a token.
    """
    from kbchat.llm.download import pull_llama2

    with _user_errors():
        path = pull_llama2(settings.local.models_dir, progress=sys.stderr.isatty())
    click.echo(f"Llama 2 7B Chat is at {path}.")
    if settings.local.local_model_path and settings.local.local_model_path != path:
        click.echo(
            f"Note: KBCHAT_LOCAL_MODEL_PATH points at {settings.local.local_model_path}; "
            "unset it to use the downloaded model.",
            err=True,
        )


from kbchat.admin.cli import admin as admin_group  # noqa: E402 - registered after main exists
from kbchat.admin.cli import docs as docs_group  # noqa: E402
from kbchat.admin.cli import settings_group  # noqa: E402

main.add_command(admin_group)
main.add_command(docs_group)
main.add_command(settings_group)

from kbchat.chat_cli import chat as chat_command  # noqa: E402 - registered after main exists

main.add_command(chat_command)


def run(argv: list[str] | None = None, *, standalone: bool = True) -> Callable[..., Any] | Any:
    """Run the CLI (used by tests to call it in-process)."""
    return main.main(args=argv, prog_name="kbchat", standalone_mode=standalone)


from kbchat.verdict.cli import judge_command, report_command  # noqa: E402 - same as admin

main.add_command(judge_command)
main.add_command(report_command)
