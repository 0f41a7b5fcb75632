"""The ``kbchat`` command line: thin, input checked, examples in the help.

One module per group of commands, each registered here on `main`:

- `index`: ``ingest`` (and ``--watch``), ``search``, ``stats``;
- `ask` and `chat`: one question, and a conversation;
- `evaluate`: ``eval``; `verdict`: ``judge`` and ``report``;
- `audit`: ``audit``; `models`: ``models list|pull``;
- `admin`: ``admin hash-password``, ``docs ...``, ``settings ...``.

Beside them: `errors` (a problem becomes one line and exit status 1), `options` (``--as USER
--groups``) and `output` (how answers and ``--json`` are printed). Every command keeps its heavy
imports inside its function, so ``kbchat --help`` starts fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from kbchat.cli.admin import admin, docs, settings_group
from kbchat.cli.ask import ask
from kbchat.cli.audit import audit
from kbchat.cli.chat import chat
from kbchat.cli.errors import load_settings
from kbchat.cli.evaluate import evaluate
from kbchat.cli.index import ingest, search, stats
from kbchat.cli.models import models
from kbchat.cli.verdict import judge_command, report_command


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
    ctx.obj = load_settings()


for command in (
    ingest,
    search,
    stats,
    ask,
    chat,
    evaluate,
    judge_command,
    report_command,
    audit,
    models,
    admin,
    docs,
    settings_group,
):
    main.add_command(command)


def run(argv: list[str] | None = None, *, standalone: bool = True) -> Callable[..., Any] | Any:
    """Run the CLI (used by tests to call it in-process)."""
    return main.main(args=argv, prog_name="kbchat", standalone_mode=standalone)
