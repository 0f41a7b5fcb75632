"""Symbolic links in a corpus folder: where they lead, and which label rules apply.

A link must not launder a document: ingested under the link's own path, a link into
``hr/private/`` (or to a file outside the corpus) would escape the path rules that make its
target confidential. So:

- a link whose target is outside the corpus folder is not ingested: it is skipped with that
  reason (the ingest report and the Admin page show it), and what was indexed under its path
  is removed; a broken link fails like any unreadable file (what was indexed for it stays);
- a link to a folder is not followed (skipped, with the reason);
- a link to a file inside the corpus is ingested under its own path, but the label rules
  apply to the link's path *and* to the target's path, and the stricter label wins
  (`strictest`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ingest.sensitivity import LABELS

OUTSIDE = "symbolic link to {kind} outside the document folder: not ingested"
FOLDER = "symbolic link to a folder: not followed (link the files, or copy the folder)"


def link_reason(root: Path, path: Path) -> str | None:
    """Why a symbolic link must be skipped, or None when it may be ingested (a broken link
    is left to the loader, which reports it as unreadable).

    Args:
        root: the corpus folder.
        path: a path inside ``root`` that is a symbolic link.
    """
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing target, or a loop
        return None
    kind = "a folder" if target.is_dir() else "a file"
    if not target.is_relative_to(root.resolve()):
        return OUTSIDE.format(kind=kind)
    if target.is_dir():
        return FOLDER
    return None


def link_target(root: Path, path: Path) -> str | None:
    """The corpus-relative POSIX path a link inside the corpus points to (None: not a link,
    or its target is not a file inside the corpus)."""
    if not os.path.islink(path):
        return None
    try:
        target = path.resolve(strict=True)
        return target.relative_to(root.resolve()).as_posix() if target.is_file() else None
    except (OSError, RuntimeError, ValueError):
        return None


def link_targets(root: Path, files: dict[str, Path]) -> dict[str, str]:
    """Link path -> target path (both corpus-relative) for the links among ``files``."""
    targets: dict[str, str] = {}
    for source, path in files.items():
        target = link_target(root, path)
        if target is not None and target != source:
            targets[source] = target
    return targets


def strictest(labels: Iterable[str]) -> str:
    """The strictest of some sensitivity labels (``confidential`` > ``internal`` > ``public``).

    Raises:
        ValueError: no label is given, or one is unknown.
    """
    ranked = [LABELS.index(label) for label in labels]
    if not ranked:
        raise ValueError("no label to choose from")
    return LABELS[max(ranked)]
