"""The setup the answering benchmarks share: docs_corpus in a temporary index, the private model.

The model is the configured one (Llama 2 7B Chat when present, else the packaged SmolLM2
stand-in) with the configured context and threads, loaded either through kbchat's
`LlamaCppBackend` or as raw llama-cpp-python with the same parameters kbchat uses.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbchat.knowledge import run_ingest
from kbchat.llm.llamacpp import LlamaCppBackend
from kbchat.llm.model_registry import default_threads
from kbchat.llm.models import ResolvedModel, resolve_local_model
from kbchat.settings import PathSettings, Settings

CORPUS = Path(__file__).resolve().parent.parent / "docs_corpus"


@dataclass(frozen=True)
class LocalModel:
    """The private model as configured, and the settings of the temporary index."""

    settings: Settings
    resolved: ResolvedModel
    threads: int
    n_ctx: int

    def backend(self, **options: Any) -> LlamaCppBackend:
        """kbchat's backend for the model (``options``: e.g. ``prefix_cache=False``)."""
        return LlamaCppBackend(
            self.resolved.path,
            chat_format=self.resolved.chat_format,
            n_ctx=self.n_ctx,
            n_threads=self.threads,
            n_gpu_layers=0,
            display_name=self.resolved.name,
            **options,
        )

    def raw(self) -> Any:
        """Raw ``llama_cpp.Llama``, loaded as kbchat loads it (`model_registry._load`)."""
        import llama_cpp

        return llama_cpp.Llama(
            model_path=str(self.resolved.path),
            n_ctx=self.n_ctx,
            n_threads=self.threads,
            n_threads_batch=self.threads,
            n_gpu_layers=0,
            chat_format=self.resolved.chat_format,
            verbose=False,
        )


@contextmanager
def sample_corpus_model() -> Iterator[LocalModel]:
    """docs_corpus ingested into a temporary index, and the configured private model."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(paths=PathSettings(corpus_dir=CORPUS, index_dir=Path(tmp)))
        run_ingest(settings)
        yield LocalModel(
            settings,
            resolve_local_model(settings.local),
            settings.local.local_n_threads or default_threads(),
            settings.local.local_n_ctx,
        )
