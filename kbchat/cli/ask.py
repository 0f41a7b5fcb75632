"""``kbchat ask``: one question, answered by the private model, the cloud model or both."""

from __future__ import annotations

from typing import Any

import click

from kbchat.cli.errors import user_errors
from kbchat.cli.options import acting_user_options
from kbchat.cli.output import (
    ask_json,
    compared_answers,
    print_both,
    print_figures,
    print_sources,
    stream_one,
)
from kbchat.settings import Settings


@click.command()
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
    with user_errors():
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
