"""Admin commands: ``kbchat admin hash-password``, ``kbchat docs ...``, ``kbchat settings ...``.

`admin`, `docs` and `settings_group` are click groups that `kbchat.cli` registers. They keep
their heavy imports inside the functions.

``docs`` and ``settings`` do what the Admin page's Documents and Settings tabs do, through the
same core functions (`kbchat.admin.documents`, `kbchat.overrides`), with the same checks and
audit rows; the audit log names the operating-system user who ran the command.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

import click

from kbchat.cli.errors import user_errors
from kbchat.cli.output import emit_json
from kbchat.errors import KbchatError
from kbchat.settings import Settings


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


# -- documents and settings, as on the Admin page ----------------------------------------------

ADJUSTABLE_KEYS = ("cloud_allowed", "confidential_paths")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _cli_user() -> str:
    """Who ran the command, for the audit log."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return f"{name} (command line)"


def _warn_if_unusable(settings: Settings) -> None:
    from kbchat.overrides import read_overrides

    problem = read_overrides(settings).error
    if problem:
        click.echo(f"Error: {problem}", err=True)


def _reingest_after(settings: Settings, what: str, user: str) -> None:
    """Write a change into the index now, as the Admin page does after it; a run that cannot
    start or fails is an error (exit status 1), never reported as done."""
    from kbchat.ingestion import summary, tracked_ingest

    try:
        report = tracked_ingest(settings, origin="command line", user=user)
    except KbchatError as err:
        raise click.ClickException(
            f"{what} is in force, but the re-ingest that writes it into the index failed: "
            f"{err} Run `kbchat ingest` when it can run."
        ) from err
    click.echo(f"Re-ingested: {summary(report)}", err=True)


@click.group()
def docs() -> None:
    """The documents, as on the Admin page: list them, label one, delete one.

    \b
    Examples:
      kbchat docs list
      kbchat docs label hr/reviews.docx confidential
      kbchat docs access hr/reviews.docx hr,legal
      kbchat docs delete old/handbook-2019.pdf --yes
    """


@docs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.pass_obj
def docs_list(settings: Settings, as_json: bool) -> None:
    """Every document in the folder or the index: label in force (and why), status, chunks.

    The label is the one the cloud gate applies now; the index's copy is shown when it differs
    (the next re-ingest writes the new one).
    """
    from kbchat.admin.documents import list_documents

    _warn_if_unusable(settings)
    with user_errors():
        rows = list_documents(settings)
    if as_json:
        emit_json([row.to_dict() for row in rows])
        return
    if not rows:
        click.echo("There are no documents yet.")
    for row in rows:
        label = f"{row.sensitivity or '-'} ({row.label_reason})" if row.sensitivity else "-"
        if row.label_pending:
            label += f", index: {row.indexed_sensitivity}"
        readers = (", ".join(row.access) or "nobody (full access only)") if row.sensitivity else "-"
        if row.sensitivity:
            readers = f"access: {readers} ({row.access_reason})"
        click.echo(f"{row.source}\t{label}\t{readers}\t{row.status}\t{row.chunks} chunks")
        if row.error:
            click.echo(f"    {row.error}")


@docs.command("label")
@click.argument("path")
@click.argument("label", type=click.Choice(["public", "internal", "confidential", "document"]))
@click.option(
    "--no-ingest", is_flag=True, help="Do not re-ingest now (the label is in force anyway)."
)
@click.pass_obj
def docs_label(settings: Settings, path: str, label: str, no_ingest: bool) -> None:
    """Set a document's sensitivity label (``document``: back to the document's own label).

    PATH is relative to the document folder. The label is in force at once: the cloud gate
    reads it at the next question. The strictest label wins: the document's front matter
    when it is stricter, and a confidential path pattern always. Then the file is re-ingested
    so that the index holds the label too (only that file; its vectors are reused).

    \b
    Examples:
      kbchat docs label finance/forecast.pdf confidential
      kbchat docs label it/vpn.md document
    """
    from kbchat.admin.documents import set_sensitivity

    user = _cli_user()
    chosen = None if label == "document" else label
    with user_errors():
        decision = set_sensitivity(settings, path, chosen, user=user)
    click.echo(f"{decision.source}: {decision.label} ({decision.reason}), in force now.")
    if chosen is not None and decision.label != chosen:
        click.echo(
            f"Note: {decision.source} stays {decision.label} ({decision.reason}): the strictest "
            "label wins.",
            err=True,
        )
    if not no_ingest:
        _reingest_after(settings, "The new label", user)


@docs.command("access")
@click.argument("path")
@click.argument("groups", required=False)
@click.option("--clear", is_flag=True, help="Remove the admin's setting for this document.")
@click.pass_obj
def docs_access(settings: Settings, path: str, groups: str | None, clear: bool) -> None:
    """Set which groups may read a document (GROUPS comma-separated; audited).

    PATH is relative to the document folder. In force for the next search, without a
    re-ingest (the index's copy is rewritten now). Where the front matter, a path rule and
    this setting all speak, only the groups ALL of them name may read.

    \b
    Examples:
      kbchat docs access hr/reviews.docx hr
      kbchat docs access finance/forecast.md finance,management
      kbchat docs access hr/reviews.docx --clear
    """
    from kbchat.admin.documents import set_access

    if clear == bool(groups):
        raise click.UsageError("give GROUPS (comma-separated) or --clear, not both or neither")
    chosen = None if clear else [g for g in (groups or "").split(",") if g.strip()]
    with user_errors():
        decision = set_access(settings, path, chosen, user=_cli_user())
    click.echo(
        f"{decision.source}: readable by {decision.shown} ({decision.reason}), in force now."
    )


@docs.command("delete")
@click.argument("path")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def docs_delete(settings: Settings, path: str, yes: bool) -> None:
    """Delete a document from the folder and its passages from the index (cannot be undone).

    \b
    Example:
      kbchat docs delete old/handbook-2019.pdf --yes
    """
    from kbchat.admin.documents import delete_document

    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("add --yes to delete without a question (not a terminal)")
        click.confirm(f"Delete {path} from the document folder and the index?", abort=True)
    with user_errors():
        delete_document(settings, path, user=_cli_user())
    click.echo(f"{path} was deleted from the folder and the index.")


@click.group("settings")
def settings_group() -> None:
    """Run-time settings, as on the Admin page: the cloud switch, confidential path patterns.

    \b
    Examples:
      kbchat settings show
      kbchat settings set cloud_allowed false
      kbchat settings set confidential_paths "hr/private/**,legal/**"
    """


def _shown(settings: Settings) -> dict[str, Any]:
    from kbchat.overrides import overrides_path, read_overrides

    state = read_overrides(settings)
    effective = settings  # loaded in force (`kbchat.overrides.load_settings`)

    def origin(key: str) -> str:
        if state.error:
            return "fail-closed: the admin settings file cannot be used"
        return "admin" if key in state.values else "environment"

    key = effective.cloud.openai_api_key
    return {
        "file": str(overrides_path(settings)),
        "error": state.error,
        "cloud_allowed": {"value": effective.cloud.cloud_allowed, "from": origin("cloud_allowed")},
        "confidential_paths": {
            "value": list(effective.ingest.confidential_paths),
            "from": origin("confidential_paths"),
        },
        "sensitivity_overrides": dict(state.values.get("sensitivity_overrides", {})),
        "openai_api_key_set": key is not None and bool(key.get_secret_value().strip()),
    }


@settings_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
@click.pass_obj
def settings_show(settings: Settings, as_json: bool) -> None:
    """The settings in force, where each comes from, and any problem with the admin's file."""
    shown = _shown(settings)
    if as_json:
        emit_json(shown)
        return
    if shown["error"]:
        click.echo(f"Error: {shown['error']}", err=True)
    cloud, paths = shown["cloud_allowed"], shown["confidential_paths"]
    click.echo(f"cloud_allowed: {str(cloud['value']).lower()} ({cloud['from']})")
    click.echo(f"confidential_paths: {', '.join(paths['value']) or '(none)'} ({paths['from']})")
    for source, label in sorted(shown["sensitivity_overrides"].items()):
        click.echo(f"label: {source}: {label} (admin)")
    click.echo(f"OPENAI_API_KEY: {'set' if shown['openai_api_key_set'] else 'not set'}")
    click.echo(f"Stored in {shown['file']}")


def _parse(key: str, value: str) -> object:
    if key == "cloud_allowed":
        text = value.strip().lower()
        if text not in (*_TRUE, *_FALSE):
            raise click.BadParameter("use true or false", param_hint="VALUE")
        return text in _TRUE
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError as err:
            raise click.BadParameter(f"not a JSON list: {err}", param_hint="VALUE") from err
        return parsed
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


@settings_group.command("set")
@click.argument("key", type=click.Choice(ADJUSTABLE_KEYS))
@click.argument("value")
@click.option(
    "--no-ingest", is_flag=True, help="Do not re-ingest after a change of the path patterns."
)
@click.pass_obj
def settings_set(settings: Settings, key: str, value: str, no_ingest: bool) -> None:
    """Change a run-time setting: stored, audited, in force at once for every process.

    cloud_allowed takes true or false; confidential_paths takes glob patterns relative to the
    document folder, separated by commas (or a JSON list; "" for none). A change of the
    patterns is in force at once and re-ingests, so the index holds the new labels too.

    \b
    Examples:
      kbchat settings set cloud_allowed true
      kbchat settings set confidential_paths "hr/private/**,finance/board/**"
    """
    from kbchat.overrides import ADJUSTABLE, set_override

    parsed = _parse(key, value)
    section, name = ADJUSTABLE[key]
    user = _cli_user()
    if getattr(getattr(settings, section), name) == parsed:
        _warn_if_unusable(settings)
        click.echo("Nothing changed.")
        return
    with user_errors():
        set_override(settings, key, parsed, user=user)
    click.echo(f"{key} is now {json.dumps(parsed)}, in force for every process.")
    if key == "confidential_paths" and not no_ingest:
        _reingest_after(settings, "The new patterns", user)
