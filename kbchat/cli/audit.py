"""``kbchat audit``: the audit log, newest first."""

from __future__ import annotations

import textwrap

import click

from kbchat.cli.output import emit_json
from kbchat.settings import Settings


@click.command()
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
