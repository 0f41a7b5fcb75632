"""PDF (pypdf): one section per page that has text."""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, LimitReachedError

from ingest.loaders.base import (
    LoadedDocument,
    LoadError,
    NoTextError,
    Section,
    build_document,
    clean_text,
    humanise_stem,
    short_reason,
)
from ingest.loaders.limits import (
    DEFAULT_LIMITS,
    LoaderLimits,
    check_pdf_pages,
    pdf_limit_error,
    pdf_stream_limits,
)

_HEADER_WINDOW = 1024
_EOF_WINDOW = 2048  # the spec allows 1024 bytes after %%EOF; be a little lenient
_MAX_TITLE_CHARS = 120
_JUNK_TITLE = re.compile(
    r"(untitled.*|document\d*|doc\d*|title|unknown|none|null|microsoft (word|powerpoint) - .*"
    r"|.*\.(docx?|pdf|pptx?|xlsx?|odt|rtf|txt|html?|indd|tmp))",
    re.IGNORECASE,
)
_SPACES = re.compile(r"[ \t]+")


def load(path: Path, data: bytes, limits: LoaderLimits = DEFAULT_LIMITS) -> LoadedDocument:
    """Load a PDF, one section per page with text.

    Args:
        path: The file (its stem is the fallback title).
        data: Its bytes.
        limits: Its most pages and the most one stream may decode to.

    Returns:
        The document; each section carries its 1-based page number.

    Raises:
        LoadError: Not a PDF, truncated, corrupt, or encrypted with a password.
        NoTextError: No page has a text layer (scanned images?).
        LimitExceededError: Over one of ``limits``.
    """
    with _quiet_pypdf(), pdf_stream_limits(limits):
        reader = _open(data, limits)
        sections = [
            Section(text, (), page=number)
            for number, text in enumerate(_page_texts(reader, limits), start=1)
            if text
        ]
        meta_title = _metadata_title(reader)
    if not sections:
        raise NoTextError("no text layer: a scanned PDF?")
    title = meta_title or _first_line(sections[0].text) or humanise_stem(path)
    return build_document(title=title, fmt="pdf", sections=sections)


def _open(data: bytes, limits: LoaderLimits) -> PdfReader:
    if b"%PDF-" not in data[:_HEADER_WINDOW]:
        raise LoadError("not a readable PDF: no PDF header (is it really a PDF?)")
    if b"%%EOF" not in data[-_EOF_WINDOW:]:
        raise LoadError("not a readable PDF: truncated (no end-of-file marker)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)  # tries the empty password itself
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise LoadError("PDF is encrypted (password protected)")
        check_pdf_pages(len(reader.pages), limits)
    except LimitReachedError as exc:
        raise pdf_limit_error(limits) from exc
    except DependencyError as exc:
        raise LoadError(
            f"PDF is encrypted and cannot be decrypted here: {short_reason(exc)}"
        ) from exc
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(f"not a readable PDF: {short_reason(exc)}") from exc
    return reader


def _page_texts(reader: PdfReader, limits: LoaderLimits) -> Iterator[str]:
    """Yield each page's clean text ("" for a page without text)."""
    number = 0
    try:
        for page in reader.pages:
            number += 1
            raw = page.extract_text() or ""
            yield clean_text("\n".join(_SPACES.sub(" ", line).strip() for line in raw.split("\n")))
    except LimitReachedError as exc:
        raise pdf_limit_error(limits, f"page {number}: ") from exc
    except Exception as exc:
        where = f"page {number}: " if number else ""
        raise LoadError(f"not a readable PDF: {where}{short_reason(exc)}") from exc


def _metadata_title(reader: PdfReader) -> str:
    try:
        metadata = reader.metadata
        title = str(metadata.title or "") if metadata else ""
    except Exception:  # noqa: BLE001 - broken document info is not worth failing the file for
        return ""
    title = " ".join(title.replace("\x00", "").split())
    if not title or _JUNK_TITLE.fullmatch(title) or not any(c.isalpha() for c in title):
        return ""
    return title


def _first_line(text: str) -> str:
    line = text.split("\n", 1)[0].strip()
    return line if len(line) <= _MAX_TITLE_CHARS else ""


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """Silence pypdf's warnings and log records about damaged files; errors still raise."""
    pypdf_logger = logging.getLogger("pypdf")
    previous = pypdf_logger.level
    pypdf_logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        pypdf_logger.setLevel(previous)
