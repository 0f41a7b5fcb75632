"""Admin commands: ``kbchat admin hash-password``, and ``kbchat ingest --watch``'s loop.

`admin` is a click group that ``kbchat.cli`` registers; `run_watch` is what ``kbchat ingest
--watch`` calls. Both keep their heavy imports inside the functions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kbchat.settings import Settings

if TYPE_CHECKING:
    from ingest.sync import IngestReport


@click.group()
def admin() -> None:
    """Administration: the admin page's password."""


@admin.command("hash-password")
def hash_password_command() -> None:
    """Make the hash of a new admin password (asked twice, not shown).

    Prints the line to put into the UI's environment. The password itself is stored nowhere.

    \b
    Example:
      kbchat admin hash-password
      export KBCHAT_ADMIN_PASSWORD_HASH=scrypt:32768:8:1:...   # the printed value
    """
    from kbchat.admin.auth import MIN_PASSWORD_LENGTH, hash_password

    password = click.prompt("New admin password", hide_input=True, confirmation_prompt="Repeat it")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(
            f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters."
        )
    click.echo(f"KBCHAT_ADMIN_PASSWORD_HASH={hash_password(password)}")
    click.echo(
        "Put this line into the environment of the UI (not into .env, which is not read for "
        "it), then restart the UI.",
        err=True,
    )


def _summary(report: IngestReport) -> str:
    line = (
        f"[{time.strftime('%H:%M:%S')}] {report.files_added} added, "
        f"{report.files_updated} updated, {report.files_removed} removed, "
        f"{report.files_unchanged} unchanged; +{report.chunks_added}/-{report.chunks_removed} "
        f"chunks, {report.chunks_total} in total, in {report.seconds:.1f} s."
    )
    return line + "".join(f"\n  failed:  {f['path']}: {f['reason']}" for f in report.failed)


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
    from kbchat.errors import KbchatError
    from kbchat.watch import watch

    folder = path or settings.paths.corpus_dir

    def report(result: IngestReport) -> None:
        click.echo(json.dumps(result.to_dict()) if as_json else _summary(result))

    def error(err: KbchatError) -> None:
        click.echo(f"[{time.strftime('%H:%M:%S')}] not ingested: {err}", err=True)

    click.echo(f"Watching {folder} every {interval:g} s; Ctrl-C stops.", err=True)
    try:
        watch(settings, path, interval=interval, full=full, on_report=report, on_error=error)
    except KeyboardInterrupt:
        click.echo("Stopped watching.", err=True)
