"""The export of a sentence-transformers model to ONNX: one graph, optionally int8, checked.

The whole pipeline (transformer, pooling, dense layers, normalisation) is traced into one graph
and compared with the PyTorch model on a few probe texts before it may be used. This is the one
module that imports torch and sentence-transformers, and only while exporting.

Quantisation is dynamic (no calibration data), int8 weights per output channel, with weights
limited to 7 bits (``reduce_range``). The 7-bit range is the portable choice: on x86 CPUs without
VNNI, ONNX Runtime multiplies uint8 activations by int8 weights with an instruction whose 16-bit
sums can saturate at full 8-bit range; at 7 bits they cannot, so every CPU computes the same
vectors and an index built on one machine can be searched from another. On this project's VNNI
CPU the full 8-bit range ran no faster and came no closer to the PyTorch vectors (cosine to them
over the sample corpus: mean 0.994 vs 0.992, min 0.983 vs 0.984). Figures and recall:
``benchmarks/embedding_backends.py``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from vectorstore.embedder import EmbedderError
from vectorstore.onnx.cache import (
    CACHE_FORMAT,
    INT8_SCHEME,
    META_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    write_json,
)
from vectorstore.onnx.runtime import embed, open_export

OPSET = 17
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# The export is refused when the ONNX vectors of these texts are further from the PyTorch ones:
# fp32 must be the same function; int8 measured 0.984 at worst on the sample corpus.
MIN_PROBE_COSINE = {"fp32": 0.9999, "int8": 0.95}
PROBE_TEXTS = (
    "How many days of annual leave do I get?",
    "VPN",
    "Install the QuillonConnect client from the software centre, sign in with your work "
    "account and approve the MFA prompt on your phone.",
    # longer than the model's 256-token window: checks that truncation matches
    " ".join(["Expenses above the approval limit need a second signature from finance."] * 30),
)


@contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence the tracer's and quantiser's advice, which users cannot act on."""

    class _DropQuantiserLogs(logging.Filter):
        # The quantiser logs each tensor it skips, straight to the root logger.
        def filter(self, record: logging.LogRecord) -> bool:
            return "onnxruntime" not in record.pathname

    drop = _DropQuantiserLogs()
    root = logging.getLogger()
    root.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeFilter(drop)


def export_model(source: Path, target: Path, *, quantize: bool) -> dict[str, Any]:
    """Export a sentence-transformers model folder to ONNX in ``target`` and check it.

    The whole pipeline (transformer, pooling, any dense layers, normalisation) goes into one
    graph; the tokenizer is saved as ``tokenizer.json``. With ``quantize`` the weights are
    made int8 (see ``INT8_SCHEME``). The result is compared with the PyTorch model on
    ``PROBE_TEXTS``.

    Args:
        source: the model folder.
        target: an empty folder to write into.
        quantize: int8 weights instead of float32.

    Returns:
        The metadata to store beside the export (without ``export_seconds``).

    Raises:
        EmbedderError: a package is missing, the model is not a text model with a fast
            tokenizer, or the export does not reproduce the PyTorch vectors.
    """
    try:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError as err:  # pragma: no cover - both are kbchat dependencies
        raise EmbedderError(
            "Exporting the embedding model to ONNX needs torch and sentence-transformers: "
            "pip install kbchat"
        ) from err
    try:
        import onnx  # noqa: F401  (the quantiser and the checks need it)
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as err:
        raise EmbedderError(
            "The ONNX embedding backend needs the onnx package to export the model: "
            "pip install onnx (or set KBCHAT_EMBEDDING_BACKEND=torch)."
        ) from err

    transformers_logging.disable_progress_bar()
    try:
        # Eager attention traces to plain MatMul/Softmax, which ONNX Runtime fuses itself.
        model = SentenceTransformer(
            str(source),
            device="cpu",
            local_files_only=True,
            model_kwargs={"attn_implementation": "eager"},
        )
    except Exception as err:
        raise EmbedderError(f"Cannot load the embedding model from {source}: {err}") from err
    model.eval()
    hf_tokenizer = getattr(model, "tokenizer", None)
    backend = getattr(hf_tokenizer, "backend_tokenizer", None)
    if hf_tokenizer is None or backend is None:
        raise EmbedderError(
            f"The model in {source} has no fast (tokenizer.json) tokenizer, which the ONNX "
            "backend needs: set KBCHAT_EMBEDDING_BACKEND=torch for this model."
        )
    preprocess = getattr(model, "preprocess", None) or model.tokenize
    sample = preprocess(["Hello world", "A second, rather longer sentence to pad against."])
    inputs = [k for k in TOKEN_INPUTS if isinstance(sample.get(k), torch.Tensor)]
    extra = [k for k, v in sample.items() if isinstance(v, torch.Tensor) and k not in inputs]
    if "input_ids" not in inputs or "attention_mask" not in inputs or extra:
        raise EmbedderError(
            f"The model in {source} takes inputs {sorted(sample)}, which the ONNX backend does "
            "not support: set KBCHAT_EMBEDDING_BACKEND=torch for this model."
        )
    constants = {k: v for k, v in sample.items() if not isinstance(v, torch.Tensor)}

    class _Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            features = dict(zip(inputs, tensors, strict=True)) | constants
            return self.model(features)["sentence_embedding"]

    fp32_path = target / ("model.fp32.onnx" if quantize else MODEL_FILE)
    axes = {name: {0: "batch", 1: "tokens"} for name in inputs}
    with _quiet_export(), torch.no_grad():
        try:
            torch.onnx.export(
                _Pipeline(),
                tuple(sample[k] for k in inputs),
                str(fp32_path),
                input_names=inputs,
                output_names=["sentence_embedding"],
                dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
            if quantize:
                quantize_dynamic(
                    fp32_path,
                    target / MODEL_FILE,
                    weight_type=QuantType.QInt8,
                    per_channel=bool(INT8_SCHEME["per_channel"]),
                    reduce_range=bool(INT8_SCHEME["reduce_range"]),
                )
                fp32_path.unlink()
        except Exception as err:
            raise EmbedderError(
                f"Cannot export the embedding model {source} to ONNX: {err}"
            ) from err
        reference = model.encode(
            list(PROBE_TEXTS),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    backend.save(str(target / TOKENIZER_FILE))
    variant = "int8" if quantize else "fp32"
    meta: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "source": str(source.resolve()),
        "variant": variant,
        "quantization": INT8_SCHEME if quantize else None,
        "dimension": int(reference.shape[1]),
        "max_seq_length": int(model.max_seq_length or hf_tokenizer.model_max_length),
        "pad_id": int(hf_tokenizer.pad_token_id or 0),
        "padding_side": str(getattr(hf_tokenizer, "padding_side", "right")),
        "inputs": inputs,
        "model_bytes": (target / MODEL_FILE).stat().st_size,
    }
    write_json(target / META_FILE, meta)  # provisional: lets the check open the folder
    cosines = (_embed_probe(target, quantize) * reference).sum(axis=1)
    meta["probe_min_cosine"] = round(float(cosines.min()), 5)
    if cosines.min() < MIN_PROBE_COSINE[variant]:
        raise EmbedderError(
            f"The {variant} ONNX export of {source} differs too much from the PyTorch model "
            f"(cosine {cosines.min():.3f} < {MIN_PROBE_COSINE[variant]}): use another "
            "KBCHAT_EMBEDDING_BACKEND for this model."
        )
    return meta


def _embed_probe(folder: Path, quantize: bool) -> np.ndarray:
    """The probe texts embedded as at run time (int8 one text per pass, fp32 padded in pairs)."""
    return embed(open_export(folder), PROBE_TEXTS, batch_size=1 if quantize else 2, threads=1)
