"""How the command line turns problems into a one-line message and exit status 1: invalid
settings (`load_settings`) and kbchat's own errors (`user_errors`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from pydantic import ValidationError

from kbchat.errors import KbchatError
from kbchat.settings import Settings


def load_settings() -> Settings:
    """The settings (environment, .env, admin overrides); invalid ones are a usage error."""
    from kbchat.settings_loading import load_settings as load

    try:
        return load()
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in err.errors()
        )
        raise click.ClickException(f"Invalid settings (environment or .env): {problems}") from err
    except KbchatError as err:  # the index could not move to its new default place
        raise click.ClickException(str(err)) from err


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn kbchat errors into a one-line message and exit status 1."""
    try:
        yield
    except KbchatError as err:
        raise click.ClickException(str(err)) from err
