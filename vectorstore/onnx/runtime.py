"""A cached ONNX export loaded in ONNX Runtime, and its forward passes over texts.

Imports neither torch nor sentence-transformers: only onnxruntime, the Rust ``tokenizers``
library and numpy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vectorstore.embedder import EmbedderError
from vectorstore.onnx.cache import META_FILE, MODEL_FILE, TOKENIZER_FILE

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Encoding, Tokenizer


@dataclass(frozen=True)
class Runtime:
    """A loaded export: the ONNX Runtime session and its tokenizer."""

    session: onnxruntime.InferenceSession
    tokenizer: Tokenizer
    inputs: tuple[str, ...]
    output: str
    dimension: int
    pad_id: int
    pad_left: bool
    folder: Path


def import_onnxruntime() -> Any:
    """The onnxruntime module, or an ``EmbedderError`` saying how to install it."""
    try:
        import onnxruntime
    except ImportError as err:
        raise EmbedderError(
            "The ONNX embedding backend needs onnxruntime: pip install onnxruntime "
            "(or set KBCHAT_EMBEDDING_BACKEND=torch)."
        ) from err
    return onnxruntime


def available_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def open_export(folder: Path) -> Runtime:
    """Load a finished export with ONNX Runtime and the Rust tokenizer."""
    ort = import_onnxruntime()
    try:
        from tokenizers import Tokenizer
    except ImportError as err:  # pragma: no cover - transformers depends on it
        raise EmbedderError(
            "The ONNX embedding backend needs tokenizers: pip install tokenizers"
        ) from err
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    options = ort.SessionOptions()
    # One core per forward pass; the embedder runs passes in parallel instead. Measured on 2
    # cores shared with other work: ONNX Runtime's own 2 threads spin while idle and ran slower
    # than 1 thread, while 2 passes at once ran fastest.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = ort.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    except Exception as err:
        raise EmbedderError(
            f"Cannot load the ONNX embedding model in {folder}: {err}. Delete that folder to "
            "export it again."
        ) from err
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=int(meta["max_seq_length"]))
    return Runtime(
        session=session,
        tokenizer=tokenizer,
        inputs=tuple(i.name for i in session.get_inputs()),
        output=session.get_outputs()[0].name,
        dimension=int(meta["dimension"]),
        pad_id=int(meta["pad_id"]),
        pad_left=meta["padding_side"] == "left",
        folder=folder,
    )


def embed(runtime: Runtime, texts: Sequence[str], *, batch_size: int, threads: int) -> np.ndarray:
    """Embed texts to a float32 matrix of unit-length rows (in the order given).

    Args:
        runtime: the loaded export.
        texts: the texts.
        batch_size: texts per forward pass.
        threads: forward passes run at once, one core each.
    """
    out = np.zeros((len(texts), runtime.dimension), dtype=np.float32)
    if not texts:
        return out
    encodings = runtime.tokenizer.encode_batch([str(t) for t in texts])
    # Longest first: batches of similar lengths pad less, and the threads finish together.
    order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
    groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    def forward(rows: list[int]) -> np.ndarray:
        feeds = _pad([encodings[i] for i in rows], runtime)
        return np.asarray(runtime.session.run([runtime.output], feeds)[0])

    workers = min(threads, len(groups))
    if workers == 1:
        results = [forward(rows) for rows in groups]
    else:  # ONNX Runtime releases the GIL while it runs
        with ThreadPoolExecutor(workers, thread_name_prefix="onnx-embed") as pool:
            results = list(pool.map(forward, groups))
    for rows, vectors in zip(groups, results, strict=True):
        out[rows] = vectors
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


def _pad(encodings: Sequence[Encoding], runtime: Runtime) -> dict[str, np.ndarray]:
    """The model's inputs for a batch of tokenised texts, padded to the longest."""
    width = max(len(e.ids) for e in encodings)
    shape = (len(encodings), width)
    arrays = {
        "input_ids": np.full(shape, runtime.pad_id, dtype=np.int64),
        "attention_mask": np.zeros(shape, dtype=np.int64),
        "token_type_ids": np.zeros(shape, dtype=np.int64),
    }
    for row, enc in enumerate(encodings):
        n = len(enc.ids)
        cols = slice(width - n, width) if runtime.pad_left else slice(0, n)
        arrays["input_ids"][row, cols] = enc.ids
        arrays["attention_mask"][row, cols] = 1
        arrays["token_type_ids"][row, cols] = enc.type_ids
    return {name: arrays[name] for name in runtime.inputs}
