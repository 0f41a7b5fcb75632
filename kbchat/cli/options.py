"""Options several ``kbchat`` commands share (``--as USER --groups G1,G2``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click


def acting_user_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--as USER --groups G1,G2``: answer as that person would be answered (the command
    gets ``user``); without them, the local user who reads every document."""

    @functools.wraps(command)
    def wrapper(*args: Any, as_user: str | None, groups: str | None, **kwargs: Any) -> Any:
        from kbchat.identity import IdentityError, acting_user, local_user, parse_groups

        if groups is not None and as_user is None:
            raise click.BadParameter("--groups needs --as USER", param_hint="--groups")
        settings = kwargs.get("settings") or click.get_current_context().obj
        try:
            user = (
                local_user()
                if as_user is None
                else acting_user(
                    as_user, parse_groups(groups), admin_groups=settings.auth.admin_groups
                )
            )
        except IdentityError as err:
            raise click.BadParameter(str(err), param_hint="--as/--groups") from err
        return command(*args, user=user, **kwargs)

    wrapper = click.option(
        "--groups",
        metavar="G1,G2",
        help="With --as: the user's groups, comma-separated (everyone is always one).",
    )(wrapper)
    return click.option(
        "--as",
        "as_user",
        metavar="USER",
        help="Answer as this user would be answered: only documents their groups may read, "
        "and records in their name. Default: the local user, who reads everything.",
    )(wrapper)
