"""``OnnxEmbedder``: the ``Embedder`` that exports its model once and runs it in ONNX Runtime."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vectorstore.embedder import EmbedderError, packaged_model_dir
from vectorstore.onnx.cache import cache_key, ensure_export
from vectorstore.onnx.export import export_model
from vectorstore.onnx.runtime import (
    Runtime,
    available_cores,
    embed,
    import_onnxruntime,
    open_export,
)


class OnnxEmbedder:
    """A sentence-transformers model run by ONNX Runtime, producing unit-length vectors.

    Forward passes run on ``threads`` cores at once, one core each (the texts, longest first,
    are shared among them). The int8 variant runs each text alone: its activations are
    quantised with one scale per forward pass, so in a batch a text's vector would depend on
    its batch-mates and on padding (cosine down to 0.984, components off by up to 0.03), and
    embedding the same text twice, or re-running an ingestion, would not give the same vectors.
    Alone, a text also needs no padding, which makes single texts as fast as batches.

    Args:
        model_path: a local sentence-transformers model folder; ``None`` means the packaged
            all-MiniLM-L6-v2.
        cache_dir: where exports are kept (one subfolder per source model and variant).
        quantize: int8 weights (faster) instead of float32 (the PyTorch model's vectors).
        batch_size: texts per forward pass of the float32 variant (int8: always 1).
        threads: forward passes run at once; ``None`` means one per CPU core available.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        cache_dir: Path,
        quantize: bool = True,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        self._path = Path(model_path) if model_path else None
        self.cache_dir = Path(cache_dir)
        self.quantize = quantize
        self.variant = "int8" if quantize else "fp32"
        self.backend = f"onnx-{self.variant}"
        self.batch_size = 1 if quantize else max(1, batch_size)
        self.threads = max(1, threads or available_cores())
        base = f"{self._path.name} (" if self._path else "all-MiniLM-L6-v2 (packaged, "
        self.name = f"{base}onnx-{self.variant})"
        self.export_seconds: float | None = None  # set when this instance made the export
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()

    # -- loading -----------------------------------------------------------------------------

    def _loaded(self) -> Runtime:
        with self._lock:
            if self._runtime is None:
                self._runtime = self._load()
            return self._runtime

    @property
    def model_dir(self) -> Path:
        """The cache folder in use (exported on first use)."""
        return self._loaded().folder

    def _load(self) -> Runtime:
        source = self._path or packaged_model_dir()
        if not (source / "modules.json").is_file():
            what = "does not exist" if not source.is_dir() else "holds no modules.json"
            raise EmbedderError(
                f"Embedding model folder {source} {what}: fix KBCHAT_EMBEDDING_MODEL "
                "(a sentence-transformers model folder)."
            )
        ort = import_onnxruntime()
        folder, seconds = ensure_export(
            self.cache_dir,
            cache_key(source, self.quantize, ort.__version__),
            lambda target: export_model(source, target, quantize=self.quantize),
            source,
            self.variant,
        )
        if seconds is not None:
            self.export_seconds = seconds
        return open_export(folder)

    # -- the Embedder interface --------------------------------------------------------------

    @property
    def dimension(self) -> int:
        return self._loaded().dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts to a float32 matrix of unit-length rows (in the order given)."""
        return embed(self._loaded(), texts, batch_size=self.batch_size, threads=self.threads)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query to a unit-length vector."""
        return self.embed_documents([text])[0]
