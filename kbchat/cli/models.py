"""``kbchat models list|pull``: the private model."""

from __future__ import annotations

import sys

import click

from kbchat.cli.errors import user_errors
from kbchat.cli.output import emit_json
from kbchat.settings import Settings


@click.group()
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

    with user_errors():
        path = pull_llama2(settings.local.models_dir, progress=sys.stderr.isatty())
    click.echo(f"Llama 2 7B Chat is at {path}.")
    if settings.local.local_model_path and settings.local.local_model_path != path:
        click.echo(
            f"Note: KBCHAT_LOCAL_MODEL_PATH points at {settings.local.local_model_path}; "
            "unset it to use the downloaded model.",
            err=True,
        )
