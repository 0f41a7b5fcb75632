"""The ONNX embedder for real: export once, reuse, match PyTorch.

One int8 export of the packaged model is made per session and shared; only the fp32 test makes
a second one. How the cache survives broken, failed and killed exports and a second process is
tested without exporting the model, in tests/unit/test_onnx_cache.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ingest.chunking import ChunkingOptions, chunk_document
from ingest.discover import discover
from ingest.loaders import load_document
from tests.conftest import CORPUS
from vectorstore import (
    ChunkRecord,
    EmbedderError,
    IndexMismatchError,
    KnowledgeIndex,
    SentenceTransformerEmbedder,
)
from vectorstore.onnx.cache import META_FILE
from vectorstore.onnx.embedder import OnnxEmbedder

pytestmark = pytest.mark.integration

# Measured on all 323 chunks of the sample corpus: int8 min 0.983, mean 0.992; fp32 1.0000.
# The bounds leave room for other CPUs' kernels; recall@5 is unchanged either way (see
# benchmarks/embedding_backends.py).
INT8_MIN_COSINE = 0.97
INT8_MEAN_COSINE = 0.985
FP32_MIN_COSINE = 0.9999


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def onnx_int8(onnx_cache: Path) -> OnnxEmbedder:
    """The packaged model exported to int8 once for the whole run."""
    embedder = OnnxEmbedder(cache_dir=onnx_cache)
    embedder.embed_query("warm up")
    return embedder


@pytest.fixture(scope="session")
def chunk_texts() -> list[str]:
    """Chunks of a few sample documents, in three formats."""
    files, _ = discover(CORPUS)
    texts: list[str] = []
    for source in (
        "hr/annual_leave_policy.md",
        "it/vpn_setup_quillonconnect.md",
        "finance/expense_approval_limits.docx",
        "travel/per_diem_rates.csv",
    ):
        document = load_document(files[source], max_bytes=10_000_000)
        records = chunk_document(
            document,
            source=source,
            sensitivity="internal",
            file_hash="",
            ingested_at="",
            options=ChunkingOptions(),
        )
        texts += [r.embed_text for r in records]
    return texts


def _folders(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.is_dir())


def test_export_is_made_once_and_reused(onnx_int8: OnnxEmbedder, onnx_cache: Path) -> None:
    assert onnx_int8.export_seconds is not None
    folder = onnx_int8.model_dir
    meta_before = (folder / META_FILE).read_text(encoding="utf-8")
    again = OnnxEmbedder(cache_dir=onnx_cache)
    vector = again.embed_query("How many days of annual leave do I get?")
    assert again.export_seconds is None
    assert again.model_dir == folder
    assert (folder / META_FILE).read_text(encoding="utf-8") == meta_before
    assert _folders(onnx_cache) == [folder.name]
    assert np.array_equal(vector, onnx_int8.embed_query("How many days of annual leave do I get?"))
    meta = json.loads(meta_before)
    assert meta["variant"] == "int8" and meta["dimension"] == 384
    assert meta["probe_min_cosine"] >= 0.95


def test_int8_vectors_are_unit_length_384_and_close_to_pytorch(
    onnx_int8: OnnxEmbedder, embedder: SentenceTransformerEmbedder, chunk_texts: list[str]
) -> None:
    vectors = onnx_int8.embed_documents(chunk_texts)
    assert vectors.shape == (len(chunk_texts), 384) and vectors.dtype == np.float32
    assert onnx_int8.dimension == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * embedder.embed_documents(chunk_texts)).sum(axis=1)
    assert cosines.min() > INT8_MIN_COSINE, cosines.min()
    assert cosines.mean() > INT8_MEAN_COSINE, cosines.mean()
    assert onnx_int8.embed_documents([]).shape == (0, 384)


def test_int8_vector_of_a_text_does_not_depend_on_its_batch(
    onnx_int8: OnnxEmbedder, chunk_texts: list[str]
) -> None:
    together = onnx_int8.embed_documents(chunk_texts)
    alone = np.stack([onnx_int8.embed_query(text) for text in chunk_texts[:5]])
    assert np.array_equal(together[:5], alone)


def test_fp32_export_matches_pytorch(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, chunk_texts: list[str]
) -> None:
    fp32 = OnnxEmbedder(cache_dir=tmp_path, quantize=False, batch_size=8)
    vectors = fp32.embed_documents(chunk_texts)
    assert fp32.export_seconds is not None
    assert fp32.model_dir.name.startswith("all-MiniLM-L6-v2-fp32-")
    cosines = (vectors * embedder.embed_documents(chunk_texts)).sum(axis=1)
    assert cosines.min() > FP32_MIN_COSINE, cosines.min()


def test_searching_a_pytorch_index_with_onnx_is_refused(
    onnx_int8: OnnxEmbedder, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    index = KnowledgeIndex(tmp_path / "index", embedder)
    index.record_embedder()
    record = ChunkRecord("c1", "VPN", "VPN", {"source": "a.md", "sensitivity": "internal"})
    index.write([record], embedder.embed_documents(["VPN"]))
    assert [h.chunk_id for h in index.search("VPN", mode="dense")] == ["c1"]
    onnx_index = KnowledgeIndex(tmp_path / "index", onnx_int8)
    for mode in ("hybrid", "dense"):
        with pytest.raises(IndexMismatchError, match=r"on torch, but .*onnx-int8\) is config"):
            onnx_index.search("VPN", mode=mode)
    assert [h.chunk_id for h in onnx_index.search("VPN", mode="keyword")] == ["c1"]
    with pytest.raises(EmbedderError):  # what the answering code catches
        onnx_index.check_embedder()


def test_model_folder_that_is_not_a_text_model_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "not-a-model"
    model.mkdir()
    (model / "modules.json").write_text("[]", encoding="utf-8")
    with pytest.raises(EmbedderError, match="not-a-model"):
        OnnxEmbedder(model, cache_dir=tmp_path / "cache").embed_query("hello")
    assert _folders(tmp_path / "cache") == []
