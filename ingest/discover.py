"""Find the files of a corpus folder and sort them into supported and skipped."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ingest.links import link_reason
from ingest.loaders import SUPPORTED_EXTENSIONS


@dataclass(frozen=True)
class Skipped:
    """A file left out, and why."""

    path: str
    reason: str


def discover(root: Path) -> tuple[dict[str, Path], list[Skipped]]:
    """Walk a corpus folder.

    Hidden files and folders (``.git``, ``.DS_Store``) are ignored silently; other files with
    an unsupported extension are listed as skipped, and so are symbolic links that lead outside
    the folder, to a folder, or nowhere (`ingest.links`). A link to a file inside the folder
    is found under its own path.

    Args:
        root: the corpus folder.

    Returns:
        Supported files by POSIX path relative to ``root`` (sorted), and the skipped files.
    """
    found: dict[str, Path] = {}
    skipped: list[Skipped] = []
    for folder, dirnames, filenames in os.walk(root):
        visible = sorted(d for d in dirnames if not d.startswith("."))
        dirnames[:] = []
        for name in visible:
            path = Path(folder, name)
            if os.path.islink(path):  # os.walk does not enter it; say why
                why = link_reason(root, path) or "symbolic link to a folder: not followed"
                skipped.append(Skipped(path.relative_to(root).as_posix(), why))
            else:
                dirnames.append(name)
        for name in sorted(filenames):
            if name.startswith(".") or name.startswith("~$"):
                continue
            path = Path(folder, name)
            source = path.relative_to(root).as_posix()
            suffix = path.suffix.lower()
            reason = link_reason(root, path) if os.path.islink(path) else None
            if reason is not None:
                skipped.append(Skipped(source, reason))
            elif suffix in SUPPORTED_EXTENSIONS:
                found[source] = path
            else:
                kind = suffix or "(no extension)"
                skipped.append(Skipped(source, f"unsupported file type {kind}"))
    return dict(sorted(found.items())), skipped
