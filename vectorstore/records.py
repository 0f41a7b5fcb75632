"""The records the index stores and returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MetadataValue = str | int | float | bool
Metadata = Mapping[str, MetadataValue]
# A metadata filter: key -> required value, or key -> any of several values.
Filters = Mapping[str, MetadataValue | Sequence[MetadataValue]]


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk as written to the index.

    Attributes:
        chunk_id: stable id (from source path, position and content hash).
        text: the passage shown to people and models.
        embed_text: what is embedded and keyword-indexed (title and section added to the text).
        metadata: flat metadata (source, title, section, page, sensitivity, ...).
    """

    chunk_id: str
    text: str
    embed_text: str
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHit:
    """One passage found by a search, best first.

    Attributes:
        chunk_id: the chunk's id.
        text: the passage text.
        metadata: the chunk's metadata.
        score: fused score (higher is better); for a single-retriever search, that retriever's.
        dense_rank: 1-based rank in dense search, ``None`` if dense search did not find it.
        keyword_rank: 1-based rank in keyword search, ``None`` if keyword search did not find it.
        dense_score: cosine similarity to the query (hybrid and dense searches).
        keyword_score: BM25 score of the passage for the query (higher is better), when
            keyword search found it.
        keyword_coverage: share of the query's search terms that occur in the passage
            (hybrid and keyword searches).
    """

    chunk_id: str
    text: str
    metadata: Metadata
    score: float
    dense_rank: int | None = None
    keyword_rank: int | None = None
    dense_score: float | None = None
    keyword_score: float | None = None
    keyword_coverage: float | None = None
