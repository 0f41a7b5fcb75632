"""Choosing the embedding backend: settings, the embedder and index registry, mismatch messages.

Nothing is loaded or exported here: embedders are built lazily, and the index's record of its
embedder is a file beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from kbchat.knowledge import embedder_for, index_for
from kbchat.settings import IndexSettings, Settings
from tests.conftest import make_settings
from vectorstore import (
    EmbedderInfo,
    IndexMismatchError,
    KnowledgeIndex,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
)
from vectorstore.index import INFO_FILE

pytestmark = pytest.mark.unit


def test_onnx_int8_is_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    index = Settings().index
    assert index.embedding_backend == "onnx-int8"
    assert index.embedding_cache_dir == Path("data/embedder-cache")
    assert index.embedding_threads is None


def test_backend_comes_from_the_environment_and_bad_values_are_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KBCHAT_EMBEDDING_BACKEND", "torch")
    monkeypatch.setenv("KBCHAT_EMBEDDING_CACHE_DIR", "/var/cache/kbchat")
    monkeypatch.setenv("KBCHAT_EMBEDDING_THREADS", "3")
    index = IndexSettings(_env_file=None)
    assert index.embedding_backend == "torch"
    assert index.embedding_cache_dir == Path("/var/cache/kbchat")
    assert index.embedding_threads == 3
    monkeypatch.setenv("KBCHAT_EMBEDDING_BACKEND", "onnx")
    with pytest.raises(ValidationError, match="embedding_backend"):
        IndexSettings(_env_file=None)
    monkeypatch.setenv("KBCHAT_EMBEDDING_BACKEND", "torch")
    monkeypatch.setenv("KBCHAT_EMBEDDING_THREADS", "0")
    with pytest.raises(ValidationError, match="embedding_threads"):
        IndexSettings(_env_file=None)


def test_embedder_for_builds_the_configured_backend(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    int8 = embedder_for(make_settings(tmp_path, index={"embedding_cache_dir": cache}))
    assert isinstance(int8, OnnxEmbedder)
    assert (int8.quantize, int8.backend, int8.cache_dir) == (True, "onnx-int8", cache)
    fp32 = embedder_for(
        make_settings(
            tmp_path,
            index={
                "embedding_backend": "onnx-fp32",
                "embedding_cache_dir": cache,
                "embedding_threads": 1,
                "embedding_batch_size": 8,
            },
        )
    )
    assert isinstance(fp32, OnnxEmbedder)
    assert (fp32.quantize, fp32.backend) == (False, "onnx-fp32")
    assert (fp32.threads, fp32.batch_size) == (1, 8)
    torch = embedder_for(make_settings(tmp_path, index={"embedding_backend": "torch"}))
    assert isinstance(torch, SentenceTransformerEmbedder) and torch.backend == "torch"
    assert len({int8.name, fp32.name, torch.name}) == 3
    assert not (cache.exists() and any(cache.iterdir())), "nothing is exported before use"


def test_relative_cache_folder_is_taken_from_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    embedder = embedder_for(make_settings(tmp_path, index={"embedding_cache_dir": "rel/cache"}))
    assert isinstance(embedder, OnnxEmbedder) and embedder.cache_dir == tmp_path / "rel" / "cache"


def test_one_embedder_and_index_per_configuration_and_backend(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert embedder_for(settings) is embedder_for(make_settings(tmp_path))
    assert index_for(settings) is index_for(make_settings(tmp_path))
    torch = make_settings(tmp_path, index={"embedding_backend": "torch"})
    assert embedder_for(torch) is not embedder_for(settings)
    assert index_for(torch) is not index_for(settings)
    assert index_for(torch).embedder is embedder_for(torch)
    assert index_for(settings).embedder is embedder_for(settings)


def test_index_records_the_embedder_that_built_it(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    index = index_for(settings)
    assert index.built_with() is None
    index.record_embedder()
    assert index.built_with() == EmbedderInfo("all-MiniLM-L6-v2 (packaged, onnx-int8)", "onnx-int8")
    # An index recorded before there were backends was built with sentence-transformers.
    (tmp_path / "index" / INFO_FILE).write_text(
        json.dumps({"embedder": "all-MiniLM-L6-v2 (packaged)"}), encoding="utf-8"
    )
    assert index.built_with() == EmbedderInfo("all-MiniLM-L6-v2 (packaged)", "torch")
    (tmp_path / "index" / INFO_FILE).write_text("{not json", encoding="utf-8")
    assert index.built_with() is None


def test_an_empty_index_takes_any_embedder(tmp_path: Path) -> None:
    index = KnowledgeIndex(tmp_path / "index", SentenceTransformerEmbedder())
    index.record_embedder()
    onnx = KnowledgeIndex(tmp_path / "index", OnnxEmbedder(cache_dir=tmp_path / "cache"))
    onnx.check_embedder()  # nothing to mix with: no error, and nothing loaded
    assert onnx.search("anything", mode="keyword") == []


def test_describing_a_change_of_backend_or_model() -> None:
    torch = EmbedderInfo("all-MiniLM-L6-v2 (packaged)", "torch")
    int8 = EmbedderInfo("all-MiniLM-L6-v2 (packaged, onnx-int8)", "onnx-int8")
    other = EmbedderInfo("e5-small", "torch")
    assert torch.describe() == "all-MiniLM-L6-v2 (packaged) on torch"
    assert int8.describe() == "all-MiniLM-L6-v2 (packaged, onnx-int8)"
    assert EmbedderInfo("wrapped", None).describe() == "wrapped"
    assert torch.change_to(int8) == "embedding backend changed from torch to onnx-int8"
    assert torch.change_to(other) == (
        "embedding model changed from all-MiniLM-L6-v2 (packaged) on torch to e5-small on torch"
    )


def test_mismatch_message_names_both_embedders_and_the_fixes(tmp_path: Path) -> None:
    torch = EmbedderInfo("all-MiniLM-L6-v2 (packaged)", "torch")
    int8 = EmbedderInfo("all-MiniLM-L6-v2 (packaged, onnx-int8)", "onnx-int8")
    message = str(IndexMismatchError(tmp_path, torch, int8))
    assert "built with the embedding model all-MiniLM-L6-v2 (packaged) on torch" in message
    assert "all-MiniLM-L6-v2 (packaged, onnx-int8) is configured" in message
    assert "`kbchat ingest --full`" in message and "Admin page" in message
    assert "set KBCHAT_EMBEDDING_BACKEND=torch to search it as it is" in message
    model_change = str(IndexMismatchError(tmp_path, EmbedderInfo("e5-small", "torch"), torch))
    assert "configure the embedding model it was built with" in model_change
