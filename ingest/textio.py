"""Decode text files whose encoding nobody wrote down."""

from __future__ import annotations

import codecs
import logging
import re
from pathlib import Path

from ingest.loaders.base import LoadError

logger = logging.getLogger(__name__)

_SAMPLE_BYTES = 8192
_MAX_CONTROL_SHARE = 0.1
# Control bytes that do not occur in text (tab, newlines, form feed and ESC are allowed).
_CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 11, 12, 13, 27} | {127})
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_C1_CONTROLS = re.compile("[\u0080-\u009f]")


def read_text(path: Path, data: bytes) -> str:
    """Decode a text file's bytes, detecting the encoding when it is not UTF-8.

    Args:
        path: The file the bytes came from (for log messages only).
        data: The file's content.

    Returns:
        The text, without a byte order mark, with "\\n" line endings.

    Raises:
        LoadError: The content is binary or no encoding fits it.
    """
    text = _decode(path, data)
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _decode(path: Path, data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoadError("cannot detect the text encoding") from exc
    if _looks_binary(data):
        raise LoadError("binary content, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = _detect(data)
    if text is None:
        raise LoadError("cannot detect the text encoding")
    logger.debug("%s: decoded with a detected encoding", path)
    return text


def _looks_binary(data: bytes) -> bool:
    if b"\x00" in data:
        return True
    sample = data[:_SAMPLE_BYTES]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls > _MAX_CONTROL_SHARE * len(sample)


def _detect(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        return None
    if "cp1252" not in best.could_be_from_charset:
        # Short Western texts often score the same in several code pages; on a tie take
        # cp1252, the usual legacy encoding of office files ("coûte", not "coűte").
        western = from_bytes(data, cp_isolation=["cp1252"]).best()
        if western is not None and western.chaos <= best.chaos:
            best = western
    text = str(best)
    # A Latin-1 guess turns Windows "smart" punctuation into C1 control characters;
    # the file was then really written in cp1252.
    if _C1_CONTROLS.search(text):
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            pass
    return text
