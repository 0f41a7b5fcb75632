"""Whether a path named by a user or an index entry is inside the corpus folder.

A document path comes from outside the code (an index entry, a download button, an upload's
name, an admin's delete): ``..`` parts, an absolute path or a symbolic link could make it
lead out of the document folder. Every place that turns such a path into a file goes
through `inside_corpus`, so the rule is written once.
"""

from __future__ import annotations

from pathlib import Path, PurePath, PurePosixPath


def inside_corpus(corpus: Path, source: str | PurePath, *, follow_link: bool = True) -> Path | None:
    """The absolute path of ``source`` in the corpus folder, or None when it leads outside.

    ``..`` parts and symbolic links are resolved before the check, and an absolute
    ``source`` is checked as it is; the file need not exist (an upload is checked before it
    is written).

    Args:
        corpus: the corpus folder (resolved here).
        source: a path relative to the corpus folder (untrusted).
        follow_link: False to resolve only the folders and keep the last part as it is: for a
            symbolic link this is the link itself (deleting it removes the link, never the
            file it points to). The last part must then be a name, not ``..``.
    """
    root = corpus.resolve()
    path = root / source
    if follow_link:
        resolved = path.resolve()
        return resolved if resolved.is_relative_to(root) else None
    if PurePath(source).name in ("", ".."):
        return None
    kept = path.parent.resolve() / path.name
    return kept if kept.parent.is_relative_to(root) else None


def document_file(corpus: Path, source: str) -> tuple[Path | None, str]:
    """The existing file an index entry's ``source`` names, with every link resolved, or why
    it names none: the one check behind a document's label and access in force.

    Args:
        corpus: the corpus folder, already resolved.
        source: the document's path relative to the corpus folder, POSIX style (untrusted).

    Returns:
        ``(file, "")``, or ``(None, reason)`` when ``source`` is empty, absolute, holds ``..``
        or a backslash, does not exist, leads outside the folder, or is not a file.
    """
    relative = PurePosixPath(source)
    if not source or relative.is_absolute() or ".." in relative.parts or "\\" in source:
        return None, "not a document path of the document folder"
    try:
        target = (corpus / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None, "the file is not in the document folder"
    if not target.is_relative_to(corpus):
        return None, "the file leads outside the document folder"
    if not target.is_file():
        return None, "not a file"
    return target, ""
