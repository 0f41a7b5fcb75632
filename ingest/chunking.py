"""Split a loaded document into chunks with metadata and stable ids."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.keyblocks import key_blocks
from ingest.loaders import LoadedDocument
from vectorstore.records import ChunkRecord, MetadataValue

_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class ChunkingOptions:
    """How documents are cut.

    Attributes:
        chunk_size: target chunk length in characters.
        chunk_overlap: characters shared by neighbouring chunks of one section.
    """

    chunk_size: int = 1200
    chunk_overlap: int = 120


@lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
        keep_separator="end",
        strip_whitespace=True,
    )


def sha256_hex(data: bytes | str) -> str:
    """SHA-256 of bytes or UTF-8 text, as hex."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def chunk_id(source: str, position: int, content_hash: str) -> str:
    """Stable chunk id from the source path, the chunk's position and its content hash."""
    return sha256_hex(f"{source}\x00{position}\x00{content_hash}")[:32]


def clean_text(text: str) -> str:
    """Collapse runs of spaces and blank lines."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _pieces(splitter: RecursiveCharacterTextSplitter, text: str) -> list[str]:
    """The section's pieces; a private key block is one piece, whole, however long it is.

    A key cut in two matches no redaction pattern, so the block is never split: the text
    around it is split as usual and the block becomes a chunk of its own.
    """
    pieces: list[str] = []
    last = 0
    for start, end in key_blocks(text):
        pieces.extend(splitter.split_text(text[last:start]))
        pieces.append(text[start:end].strip())
        last = end
    pieces.extend(splitter.split_text(text[last:]))
    return pieces


def chunk_document(
    document: LoadedDocument,
    *,
    source: str,
    sensitivity: str,
    file_hash: str,
    ingested_at: str,
    options: ChunkingOptions,
) -> list[ChunkRecord]:
    """Cut a document into chunks, section by section.

    Each chunk's ``embed_text`` (what is embedded and keyword-indexed) carries the document
    title and the section's heading path ahead of the text, so a passage is found by what it is
    about even when its own words do not say it.

    Args:
        document: the loaded document.
        source: its path relative to the corpus root (POSIX).
        sensitivity: its sensitivity label.
        file_hash: SHA-256 of the file's bytes.
        ingested_at: ISO time of this ingestion.
        options: chunk sizes.

    Returns:
        The chunks in document order.
    """
    splitter = _splitter(options.chunk_size, options.chunk_overlap)
    folder = source.split("/", 1)[0] if "/" in source else ""
    records: list[ChunkRecord] = []
    for section in document.sections:
        heading = " > ".join(h for h in section.heading_path if h)
        for piece in _pieces(splitter, clean_text(section.text)):
            if not piece.strip():
                continue
            position = len(records)
            header = document.title if not heading else f"{document.title}\n{heading}"
            embed_text = f"{header}\n\n{piece}"
            content_hash = sha256_hex(embed_text)
            metadata: dict[str, MetadataValue] = {
                "source": source,
                "folder": folder,
                "title": document.title,
                "section": heading,
                "format": document.format,
                "sensitivity": sensitivity,
                "position": position,
                "content_hash": content_hash,
                "file_hash": file_hash,
                "ingested_at": ingested_at,
            }
            if section.page is not None:
                metadata["page"] = section.page
            records.append(
                ChunkRecord(
                    chunk_id=chunk_id(source, position, content_hash),
                    text=piece,
                    embed_text=embed_text,
                    metadata=metadata,
                )
            )
    return records
