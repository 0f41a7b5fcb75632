"""Limits on documents that inflate: zip bombs, element floods, deep nesting, huge PDFs.

A file's size on disk says little about what parsing it costs: a 13 KB DOCX can unpack to
gigabytes of XML, an HTML page can nest a million elements, a PDF can hold millions of pages
or a stream that decompresses without end. Each loader checks its format's limits *before*
the parsing library builds anything big, and a file over a limit fails with a
`LimitExceededError` whose reason names the limit and the setting that raises it; the rest
of the ingestion goes on.

The checks are cheap and streaming: a zip's directory (sizes as declared, which Python's
``zipfile`` also enforces while inflating), a SAX-style count of XML and HTML elements
through lxml's C parser (no tree is built), pypdf's own decompression limits.

These limits are about what one file may ask of the parser; running each parser in a
separate process with a time and memory limit is the other half of the protection.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from lxml import etree

from ingest.loaders.base import LoadError, format_size

_MB = 1024 * 1024
RATIO_MIN_BYTES = 1 * _MB  # smaller parts may compress as well as they like
DOCX_COUNTED_PARTS = ("word/document.xml",)


@dataclass(frozen=True)
class LoaderLimits:
    """What one document may ask of its parser (the ``KBCHAT_*`` settings of the same names).

    Attributes:
        docx_max_unzipped_bytes: Most bytes a DOCX's parts may unpack to, together.
        docx_max_ratio: Most times one part (of at least 1 MB unpacked) may inflate.
        docx_max_elements: Most XML elements in the document body.
        pdf_max_pages: Most pages of a PDF.
        pdf_max_stream_bytes: Most bytes one PDF stream may decode to.
        html_max_bytes: Largest HTML file.
        html_max_elements: Most elements of an HTML file.
        html_max_depth: Deepest nesting of HTML elements.
    """

    docx_max_unzipped_bytes: int = 200 * _MB
    docx_max_ratio: float = 100.0
    docx_max_elements: int = 1_000_000
    pdf_max_pages: int = 2_000
    pdf_max_stream_bytes: int = 50 * _MB
    html_max_bytes: int = 10 * _MB
    html_max_elements: int = 500_000
    html_max_depth: int = 500


DEFAULT_LIMITS = LoaderLimits()


class LimitExceededError(LoadError):
    """A document is over one of the `LoaderLimits`; the reason names the limit's setting."""


def _over(what: str, limit: str, setting: str) -> LimitExceededError:
    return LimitExceededError(
        f"over a limit for hostile documents: {what}, more than the {limit} allowed "
        f"(raise {setting} if the file is genuine)"
    )


# -- DOCX ------------------------------------------------------------------------------------


def check_docx(archive: zipfile.ZipFile, limits: LoaderLimits) -> None:
    """Check a DOCX's zip directory and count the elements of its body, before parsing it.

    Raises:
        LimitExceededError: it unpacks to too much, a part inflates too many times, or the
            body holds too many elements.
    """
    members = archive.infolist()
    unzipped = sum(member.file_size for member in members)
    if unzipped > limits.docx_max_unzipped_bytes:
        raise _over(
            f"the DOCX unpacks to {format_size(unzipped, round_up=True)}",
            format_size(limits.docx_max_unzipped_bytes),
            "KBCHAT_DOCX_MAX_UNZIPPED_MB",
        )
    for member in members:
        if member.file_size < RATIO_MIN_BYTES:
            continue
        ratio = member.file_size / max(1, member.compress_size)
        if ratio > limits.docx_max_ratio:
            raise _over(
                f"its part {member.filename} inflates {ratio:,.0f} times (a zip bomb?)",
                f"{limits.docx_max_ratio:g} times",
                "KBCHAT_DOCX_MAX_RATIO",
            )
    names = set(archive.namelist())
    for name in DOCX_COUNTED_PARTS:
        if name in names:
            with archive.open(name) as part:
                _count_xml(part, limits.docx_max_elements)


class _ElementCounter:
    """An lxml parser target that counts elements and nesting, and builds nothing."""

    def __init__(self, max_elements: int, max_depth: int | None) -> None:
        self.max_elements = max_elements
        self.max_depth = max_depth
        self.elements = 0
        self.depth = 0

    def start(self, _tag: object, _attrib: object, _nsmap: object = None) -> None:
        self.elements += 1
        self.depth += 1
        if self.elements > self.max_elements:
            raise _CountExceeded("elements")
        if self.max_depth is not None and self.depth > self.max_depth:
            raise _CountExceeded("depth")

    def end(self, _tag: object) -> None:
        self.depth -= 1

    def data(self, _text: object) -> None:
        return

    def comment(self, _text: object) -> None:
        return

    def close(self) -> None:
        return


class _CountExceeded(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _feed(parser: Any, source: IO[bytes], chunk: int = 64 * 1024) -> None:
    """Feed a parser in blocks, so that a huge part is never held whole."""
    while True:
        block = source.read(chunk)
        if not block:
            break
        parser.feed(block)
    parser.close()


def _count_xml(source: IO[bytes], max_elements: int) -> None:
    counter = _ElementCounter(max_elements, None)
    parser = etree.XMLParser(
        target=counter, resolve_entities=False, no_network=True, huge_tree=True
    )
    try:
        _feed(parser, source)
    except _CountExceeded:
        raise _over(
            f"its body has more than {max_elements:,} XML elements",
            f"{max_elements:,}",
            "KBCHAT_DOCX_MAX_ELEMENTS",
        ) from None
    except etree.LxmlError as exc:
        raise LoadError(f"not a readable DOCX: broken XML in the body ({exc})") from exc


# -- HTML ------------------------------------------------------------------------------------


def check_html(data: bytes, limits: LoaderLimits) -> None:
    """Check an HTML file's size, element count and nesting depth, before parsing it.

    Raises:
        LimitExceededError: it is over one of the HTML limits.
    """
    if len(data) > limits.html_max_bytes:
        raise _over(
            f"the HTML file is {format_size(len(data), round_up=True)}",
            format_size(limits.html_max_bytes),
            "KBCHAT_HTML_MAX_MB",
        )
    counter = _ElementCounter(limits.html_max_elements, limits.html_max_depth)
    parser = etree.HTMLParser(target=counter, no_network=True, huge_tree=True)
    try:
        _feed(parser, io.BytesIO(data))
    except _CountExceeded as exceeded:
        if exceeded.what == "depth":
            raise _over(
                f"its elements nest more than {limits.html_max_depth:,} deep",
                f"{limits.html_max_depth:,} levels",
                "KBCHAT_HTML_MAX_DEPTH",
            ) from None
        raise _over(
            f"it has more than {limits.html_max_elements:,} elements",
            f"{limits.html_max_elements:,}",
            "KBCHAT_HTML_MAX_ELEMENTS",
        ) from None
    except etree.LxmlError:
        return  # the real parser is lenient and says what it can read


# -- PDF -------------------------------------------------------------------------------------


def check_pdf_pages(pages: int, limits: LoaderLimits) -> None:
    """Refuse a PDF with more pages than allowed.

    Raises:
        LimitExceededError: ``pages`` is over ``pdf_max_pages``.
    """
    if pages > limits.pdf_max_pages:
        raise _over(
            f"the PDF has {pages:,} pages",
            f"{limits.pdf_max_pages:,}",
            "KBCHAT_PDF_MAX_PAGES",
        )


@contextmanager
def pdf_stream_limits(limits: LoaderLimits) -> Iterator[None]:
    """pypdf's decoding limits set to ``pdf_max_stream_bytes`` while a PDF is read.

    pypdf raises ``LimitReachedError`` when a stream would decode to more; `pdf_limit_error`
    turns it into the reason a user reads.
    """
    from pypdf import apply_configuration

    size = limits.pdf_max_stream_bytes
    with apply_configuration(
        maximum_declared_stream_length=size,
        array_based_stream_maximum_output_length=size,
        zlib_maximum_output_length=size,
        lzw_maximum_output_length=size,
        run_length_maximum_output_length=size,
        brotli_maximum_output_length=size,
        jbig2_maximum_output_length=size,
        image_maximum_buffer_size=size,
        stream_decoding_work_maximum_length=max(size, 4 * size),
    ):
        yield


def pdf_limit_error(limits: LoaderLimits, where: str = "") -> LimitExceededError:
    """The reason for a PDF whose stream went over ``pdf_max_stream_bytes``."""
    return _over(
        f"{where}a stream decodes to more than {format_size(limits.pdf_max_stream_bytes)}",
        format_size(limits.pdf_max_stream_bytes),
        "KBCHAT_PDF_MAX_STREAM_MB",
    )
