"""The ONNX embedder's naming, cache keys and errors (nothing is exported here)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from vectorstore import EmbedderError, SentenceTransformerEmbedder
from vectorstore.embedder import packaged_model_dir
from vectorstore.onnx.cache import cache_key
from vectorstore.onnx.embedder import OnnxEmbedder

pytestmark = pytest.mark.unit


def test_name_differs_from_the_pytorch_embedder_and_between_variants(tmp_path: Path) -> None:
    int8 = OnnxEmbedder(cache_dir=tmp_path)
    fp32 = OnnxEmbedder(cache_dir=tmp_path, quantize=False)
    assert int8.name == "all-MiniLM-L6-v2 (packaged, onnx-int8)"
    assert fp32.name == "all-MiniLM-L6-v2 (packaged, onnx-fp32)"
    assert SentenceTransformerEmbedder().name not in (int8.name, fp32.name)
    configured = OnnxEmbedder(tmp_path / "my-model", cache_dir=tmp_path)
    assert configured.name == "my-model (onnx-int8)"
    assert configured.name != SentenceTransformerEmbedder(tmp_path / "my-model").name


def test_int8_runs_one_text_per_pass_whatever_the_batch_size(tmp_path: Path) -> None:
    assert OnnxEmbedder(cache_dir=tmp_path, batch_size=32).batch_size == 1
    assert OnnxEmbedder(cache_dir=tmp_path, quantize=False, batch_size=32).batch_size == 32
    assert OnnxEmbedder(cache_dir=tmp_path, threads=3).threads == 3


def test_missing_model_folder_names_the_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(EmbedderError, match=r"nowhere does not exist.*KBCHAT_EMBEDDING_MODEL"):
        OnnxEmbedder(missing, cache_dir=tmp_path / "cache").embed_query("hello")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmbedderError, match=r"holds no modules\.json"):
        OnnxEmbedder(empty, cache_dir=tmp_path / "cache").dimension  # noqa: B018
    assert not (tmp_path / "cache").exists()


def test_missing_onnxruntime_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(EmbedderError, match="needs onnxruntime: pip install onnxruntime"):
        OnnxEmbedder(cache_dir=tmp_path).embed_query("hello")


def test_missing_onnx_package_says_what_to_install_and_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(EmbedderError, match=r"needs the onnx package.*pip install onnx"):
        OnnxEmbedder(cache_dir=tmp_path).embed_query("hello")
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def _fake_model(root: Path) -> Path:
    root.mkdir()
    (root / "modules.json").write_text("[]", encoding="utf-8")
    (root / "model.safetensors").write_bytes(b"weights")
    return root


def test_cache_key_tracks_the_source_variant_and_runtime(tmp_path: Path) -> None:
    model = _fake_model(tmp_path / "my model")
    key = cache_key(model, True, "1.32.0")
    assert key.startswith("my-model-int8-")
    assert cache_key(model, True, "1.32.1") == key  # a patch release keeps the export
    assert cache_key(model, True, "1.33.0") != key
    assert cache_key(model, False, "1.32.0").startswith("my-model-fp32-")
    other = _fake_model(tmp_path / "other")
    os.utime(other / "model.safetensors", ns=(1, 1))
    os.utime(model / "model.safetensors", ns=(1, 1))
    before = cache_key(model, True, "1.32.0")
    (model / "model.safetensors").write_bytes(b"new weights")
    assert cache_key(model, True, "1.32.0") != before
    assert cache_key(other, True, "1.32.0") != before


def test_cache_key_of_the_packaged_model_is_named_after_it() -> None:
    assert cache_key(packaged_model_dir(), True, "1.32.0").startswith("all-MiniLM-L6-v2-int8-")


def test_unwritable_cache_folder_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(EmbedderError, match=r"Cannot write the ONNX export .* to .*file"):
        OnnxEmbedder(cache_dir=blocker / "cache").embed_query("hello")
