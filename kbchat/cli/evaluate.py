"""``kbchat eval``: retrieval and answers measured on a question set."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from kbchat.cli.errors import user_errors
from kbchat.cli.options import acting_user_options
from kbchat.cli.output import emit_json
from kbchat.settings import Settings


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


@click.command("eval")
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

    with user_errors():
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
        with user_errors():
            run = runner.run(questions, eval_set=str(eval_file), on_row=progress)
    finally:
        progress.close()
    with user_errors():
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
