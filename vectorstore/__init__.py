"""The index: embedder, Chroma collection, BM25 keyword index and hybrid search.

Knows nothing of language models or the UI; takes plain parameters.
"""

from vectorstore.chroma_store import ChromaStore, ChromaStoreError
from vectorstore.embedder import Embedder, EmbedderError, SentenceTransformerEmbedder
from vectorstore.index import (
    EmbedderInfo,
    IndexMismatchError,
    IndexStats,
    KnowledgeIndex,
    SearchMode,
)
from vectorstore.keyword import KeywordIndex
from vectorstore.onnx.embedder import OnnxEmbedder
from vectorstore.records import ChunkRecord, Filters, SearchHit

__all__ = [
    "ChromaStore",
    "ChromaStoreError",
    "ChunkRecord",
    "Embedder",
    "EmbedderError",
    "EmbedderInfo",
    "Filters",
    "IndexMismatchError",
    "IndexStats",
    "KeywordIndex",
    "KnowledgeIndex",
    "OnnxEmbedder",
    "SearchHit",
    "SearchMode",
    "SentenceTransformerEmbedder",
]
