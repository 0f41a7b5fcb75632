"""Find the files of a corpus folder and sort them into supported and skipped."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import SUPPORTED_EXTENSIONS


@dataclass(frozen=True)
class Skipped:
    """A file left out, and why."""

    path: str
    reason: str


def discover(root: Path) -> tuple[dict[str, Path], list[Skipped]]:
    """Walk a corpus folder.

    Hidden files and folders (``.git``, ``.DS_Store``) are ignored silently; other files with
    an unsupported extension are listed as skipped.

    Args:
        root: the corpus folder.

    Returns:
        Supported files by POSIX path relative to ``root`` (sorted), and the skipped files.
    """
    found: dict[str, Path] = {}
    skipped: list[Skipped] = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name.startswith("~$"):
                continue
            path = Path(folder, name)
            source = path.relative_to(root).as_posix()
            suffix = path.suffix.lower()
            if suffix in SUPPORTED_EXTENSIONS:
                found[source] = path
            else:
                kind = suffix or "(no extension)"
                skipped.append(Skipped(source, f"unsupported file type {kind}"))
    return dict(sorted(found.items())), skipped
