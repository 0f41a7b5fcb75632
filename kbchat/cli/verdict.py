"""``kbchat judge`` and ``kbchat report``: the automatic judge and the verdict, from the shell.

Registered on the main group by `kbchat.cli`; heavy imports stay inside the functions.
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

import click

from kbchat.cli.errors import user_errors
from kbchat.cli.output import emit_json
from kbchat.settings import Settings


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date: use YYYY-MM-DD (or an ISO time)"
        ) from None
    return value


@click.command("judge")
@click.option(
    "--since",
    callback=_since,
    metavar="DATE",
    help="Only comparisons recorded on or after this date (YYYY-MM-DD).",
)
@click.option("--limit", type=click.IntRange(1, 1_000_000), help="Judge at most N comparisons.")
@click.option("--again", is_flag=True, help="Also re-judge comparisons this judge already judged.")
@click.option("--json", "as_json", is_flag=True, help="Print what was judged as JSON.")
@click.pass_obj
def judge_command(
    settings: Settings, since: str | None, limit: int | None, again: bool, as_json: bool
) -> None:
    """Let the judge model rate recorded comparisons (private model vs ChatGPT).

    Each comparison is judged twice, the answers swapped the second time; when the two
    orders disagree it counts as a tie. A cloud judge obeys the policy gate: comparisons
    that drew on confidential passages are skipped (a private judge, KBCHAT_JUDGE_PRIVATE,
    may see them). Every judge call is in the audit log.

    \b
    Examples:
      kbchat judge
      kbchat judge --since 2026-12-01 --limit 50
      kbchat judge --json
    """
    from kbchat.judging import Judging

    with user_errors():
        run = Judging(settings, session="kbchat judge").run(since=since, limit=limit, again=again)
    if as_json:
        emit_json(run.to_dict())
        return
    where = "private judge" if run.private else "cloud judge, through the policy gate"
    counts = run.counts()
    if not run.items:
        click.echo(f"Nothing to judge for {run.judge_model} ({where}).")
        return
    for item in run.items:
        head = textwrap.shorten(item.question, 60)
        verdict = item.verdict or item.status
        click.echo(f"#{item.comparison_id} {verdict:<12} {head}")
        if item.reason:
            click.echo(f"    {textwrap.shorten(item.reason, 110)}")
    click.echo(
        f"{run.judge_model} ({where}): {counts['judged']} judged, {counts['unparseable']} "
        f"unparseable, {counts['skipped']} skipped, {counts['failed']} failed."
    )


@click.command("report")
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the report as one self-contained web page to PATH.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def report_command(settings: Settings, html_path: Path | None, as_json: bool) -> None:
    """Can the private model replace ChatGPT? The verdict per topic, with 95% intervals.

    From the human verdicts of the Compare page and the judge's (`kbchat judge`); with the
    judge and people's agreement, cloud cost and both models' speed.

    \b
    Examples:
      kbchat report
      kbchat report --html verdict.html
      kbchat report --json
    """
    from kbchat.audit import audit_for
    from kbchat.ledger import ledger_for
    from kbchat.verdict.figures import verdict_report
    from kbchat.verdict.report import render_text, write_html

    with user_errors():
        report = verdict_report(settings, ledger_for(settings), audit_for(settings))
        if html_path is not None:
            write_html(report, html_path)
    if as_json:
        emit_json(report.to_json())
    else:
        click.echo(render_text(report))
    if html_path is not None:
        click.echo(f"Report written to {html_path}.", err=True)
