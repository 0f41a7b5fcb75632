"""Document loaders: turn one file into clean text sections, or explain why not.

``load_document`` picks the loader by file extension. Each format lives in its own module,
imported on first use so that a job only pays for the libraries it needs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import cast

from ingest.loaders.base import (
    NO_TEXT,
    LoadedDocument,
    LoadError,
    NoTextError,
    Section,
    read_file,
    short_reason,
)
from ingest.loaders.limits import DEFAULT_LIMITS, LimitExceededError, LoaderLimits

__all__ = [
    "NO_TEXT",
    "SUPPORTED_EXTENSIONS",
    "LimitExceededError",
    "LoadError",
    "LoadedDocument",
    "LoaderLimits",
    "NoTextError",
    "Section",
    "load_document",
]

SUPPORTED_EXTENSIONS: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".csv": "csv",
}

# Formats that can inflate far beyond their size on disk: their loaders take `LoaderLimits`.
_LIMITED_FORMATS = frozenset({"docx", "pdf", "html"})

_Loader = Callable[..., LoadedDocument]


def load_document(
    path: Path, *, max_bytes: int, limits: LoaderLimits = DEFAULT_LIMITS
) -> LoadedDocument:
    """Load one file into titled, sectioned text.

    Args:
        path: The file; its lower-cased extension selects the format.
        max_bytes: Files larger than this are refused.
        limits: What a DOCX, PDF or HTML file may ask of its parser (zip bombs, element
            floods, deep nesting); a file over one fails with `LimitExceededError`.

    Returns:
        The document's title, format, sections and front matter.

    Raises:
        LoadError: The file cannot be ingested; the message says why. No other exception
            escapes for a bad file.
        NoTextError: (a `LoadError`) The file was read and has nothing to index: it is
            empty, only front matter, a header row, a PDF without a text layer...
    """
    suffix = path.suffix.lower()
    fmt = SUPPORTED_EXTENSIONS.get(suffix)
    if fmt is None:
        raise LoadError(f"unsupported file type {suffix or '(no extension)'}")
    data = read_file(path, max_bytes)
    loader = _loader_for(fmt)
    try:
        if fmt in _LIMITED_FORMATS:
            return loader(path, data, limits)
        return loader(path, data)
    except LoadError:
        raise
    except Exception as exc:  # a library failing on a bad file must not stop the job
        raise LoadError(
            f"cannot read this {fmt} file: {type(exc).__name__}: {short_reason(exc)}"
        ) from exc


def _loader_for(fmt: str) -> _Loader:
    try:
        module = importlib.import_module(f"{__name__}.{fmt}")
    except ImportError as exc:
        raise LoadError(
            f"cannot load {fmt} files: {short_reason(exc)} (install the project's dependencies)"
        ) from exc
    return cast(_Loader, module.load)
