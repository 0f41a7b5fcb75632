"""The knowledge base as the core sees it: built from settings, searched, ingested, described.

`ingest/` and `vectorstore/` take plain values; this module is where settings become those
values. Heavy objects (embedder, index) are built once per process and shared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.chunking import ChunkingOptions
from ingest.loaders import LoaderLimits
from ingest.lock import ingest_running
from ingest.manifest import Manifest
from ingest.parser_pool import ParserLimits
from ingest.sync import IngestJob, IngestOptions, IngestReport, ProgressCallback
from kbchat.errors import ConfigError, IndexEmptyError
from kbchat.identity import User
from kbchat.instances import PerProcess
from kbchat.lower_errors import translated
from kbchat.settings import Settings
from vectorstore import (
    Embedder,
    KnowledgeIndex,
    OnnxEmbedder,
    SearchHit,
    SearchMode,
    SentenceTransformerEmbedder,
)
from vectorstore.records import Filters

if TYPE_CHECKING:
    from kbchat.access import CurrentAccess

_embedders: PerProcess[tuple[object, ...], Embedder] = PerProcess()
_indexes: PerProcess[tuple[object, ...], KnowledgeIndex] = PerProcess()
_manifests: PerProcess[Path, Manifest] = PerProcess()


def _embedder_key(settings: Settings) -> tuple[object, ...]:
    """What decides which embedder is built."""
    config = settings.index
    key: tuple[object, ...] = (config.embedding_backend, config.embedding_model)
    if config.embedding_backend == "torch":
        return (*key, config.embedding_batch_size)
    return (
        *key,
        config.embedding_cache_dir.resolve(),
        config.embedding_threads,
        config.embedding_batch_size if config.embedding_backend == "onnx-fp32" else None,
    )


def embedder_for(settings: Settings) -> Embedder:
    """The configured embedding model on the configured backend (one per process and
    configuration); nothing is loaded, or exported, before its first use."""
    config = settings.index

    def build() -> Embedder:
        if config.embedding_backend == "torch":
            return SentenceTransformerEmbedder(
                config.embedding_model, batch_size=config.embedding_batch_size
            )
        return OnnxEmbedder(
            config.embedding_model,
            cache_dir=config.embedding_cache_dir.resolve(),
            quantize=config.embedding_backend == "onnx-int8",
            batch_size=config.embedding_batch_size,
            threads=config.embedding_threads,
        )

    return _embedders.get(_embedder_key(settings), build)


def index_for(settings: Settings) -> KnowledgeIndex:
    """The configured knowledge index (one per process and configuration)."""
    index_dir = settings.paths.index_dir.resolve()
    key = (
        index_dir,
        settings.index.collection,
        settings.index.chroma_host,
        settings.index.chroma_port,
        _embedder_key(settings),
        settings.retrieval.candidates,
        settings.retrieval.rrf_k,
        settings.retrieval.fusion,
        settings.retrieval.dense_weight,
    )
    return _indexes.get(
        key,
        lambda: KnowledgeIndex(
            index_dir,
            embedder_for(settings),
            collection=settings.index.collection,
            chroma_host=settings.index.chroma_host,
            chroma_port=settings.index.chroma_port,
            candidates=settings.retrieval.candidates,
            rrf_k=settings.retrieval.rrf_k,
            fusion=settings.retrieval.fusion,
            dense_weight=settings.retrieval.dense_weight,
        ),
    )


def manifest_for(settings: Settings) -> Manifest:
    """The manifest of the configured index."""
    path = settings.paths.index_dir.resolve() / "manifest.sqlite3"
    return _manifests.get(path, lambda: Manifest(path))


def ingest_options(
    settings: Settings, corpus: Path | None = None, *, full: bool = False
) -> IngestOptions:
    """Ingestion options from settings (``corpus`` overrides the configured folder).

    The admin's run-time changes apply (`kbchat.overrides`): confidential path patterns and
    per-document sensitivity labels, whichever process runs the ingestion.
    """
    from kbchat.access import access_options
    from kbchat.overrides import effective_settings, read_overrides, sensitivity_overrides

    access = access_options(settings, read_overrides(settings))
    settings = effective_settings(settings)
    return IngestOptions(
        corpus_dir=corpus or settings.paths.corpus_dir,
        max_file_bytes=int(settings.ingest.max_file_mb * 1024 * 1024),
        chunking=ChunkingOptions(settings.ingest.chunk_size, settings.ingest.chunk_overlap),
        confidential_paths=tuple(settings.ingest.confidential_paths),
        default_sensitivity=settings.ingest.default_sensitivity,
        full=full,
        sensitivity_overrides=sensitivity_overrides(settings),
        parser_limits=ParserLimits(
            timeout_s=settings.ingest.parser_timeout_s,
            memory_mb=settings.ingest.parser_memory_mb,
            workers=settings.ingest.parser_workers,
        ),
        loader_limits=loader_limits(settings),
        **access,
    )


def loader_limits(settings: Settings) -> LoaderLimits:
    """What one DOCX, PDF or HTML file may ask of its parser (``KBCHAT_DOCX_*``, …)."""
    limits = settings.limits
    mb = 1024 * 1024
    return LoaderLimits(
        docx_max_unzipped_bytes=int(limits.docx_max_unzipped_mb * mb),
        docx_max_ratio=limits.docx_max_ratio,
        docx_max_elements=limits.docx_max_elements,
        pdf_max_pages=limits.pdf_max_pages,
        pdf_max_stream_bytes=int(limits.pdf_max_stream_mb * mb),
        html_max_bytes=int(limits.html_max_mb * mb),
        html_max_elements=limits.html_max_elements,
        html_max_depth=limits.html_max_depth,
    )


def run_ingest(
    settings: Settings,
    corpus: Path | None = None,
    *,
    full: bool = False,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Sync the index with the corpus folder.

    An index built with another embedding model or backend is rebuilt from nothing (every
    chunk re-embedded); the report's ``notes`` say so.

    Raises:
        KbchatError: the run could not complete (another run holds the lock, the corpus folder
            is missing, the index cannot be written); the message says why.
    """
    with translated(unavailable_fix="Nothing was lost: run ingestion again when it is back."):
        job = IngestJob(
            index_for(settings),
            manifest_for(settings),
            ingest_options(settings, corpus, full=full),
            progress,
        )
        return job.run()


def search(
    settings: Settings,
    query: str,
    k: int | None = None,
    *,
    filters: Filters | None = None,
    mode: SearchMode = "hybrid",
    reader: User | None = None,
) -> list[SearchHit]:
    """Search the knowledge base (for ``reader``: only what their groups may read).

    Raises:
        IndexEmptyError: nothing has been ingested yet.
        KbchatError: the index cannot be read, or was built with another embedding model or
            backend than the configured one (the message says how to re-embed it).
    """
    if not query.strip():
        raise ConfigError("The question is empty.")
    with translated():
        index = index_for(settings)
        if index.count() == 0:
            raise IndexEmptyError()
        readable_by = None if reader is None or reader.full_access else sorted(reader.groups)
        return index.search(
            query,
            k or settings.retrieval.top_k,
            filters=filters,
            mode=mode,
            readable_by=readable_by,
        )


def passage_dict(hit: SearchHit, rank: int) -> dict[str, Any]:
    """A search hit in the shape of ``kbchat search --json``."""
    meta = hit.metadata
    page = meta.get("page")
    return {
        "rank": rank,
        "chunk_id": hit.chunk_id,
        "source": meta.get("source"),
        "section": meta.get("section") or None,
        "page": int(page) if page is not None else None,
        "sensitivity": meta.get("sensitivity"),
        "score": round(hit.score, 6),
        "text": hit.text,
    }


@dataclass(frozen=True)
class KnowledgeStats:
    """What ``kbchat stats`` reports."""

    documents: int
    chunks: int
    by_sensitivity: dict[str, dict[str, int]]
    index_bytes: int | None
    index_location: str
    embedder: str
    last_ingest: str | None
    last_report: dict[str, object] | None
    failed_files: int
    ingest_running: bool

    def to_dict(self) -> dict[str, object]:
        """As plain data."""
        return dict(self.__dict__)


def readable_sources(settings: Settings, user: User | None) -> set[str]:
    """The indexed documents ``user`` may read now (``None``: every one, as today)."""
    from kbchat.access import current_access

    entries = manifest_for(settings).entries()
    if user is None or user.full_access:
        return set(entries)
    current = current_access(settings)
    return {source for source in entries if current.may_read(user, source)}


def may_read_source(settings: Settings, user: User | None, source: str) -> bool:
    """Whether ``user`` may read (or download) one indexed document now; an unknown document
    is as unreadable as a forbidden one, so the answer never tells them apart."""
    from kbchat.access import current_access

    if source not in manifest_for(settings).entries():
        return False
    return user is None or user.full_access or current_access(settings).may_read(user, source)


def reconcile_access(
    settings: Settings, sources: Iterable[str], current: CurrentAccess | None = None
) -> int:
    """Rewrite the stored access of these documents' chunks to the access in force, in both
    indexes (metadata only); returns how many documents needed it."""
    from kbchat.access import current_access

    current = current or current_access(settings)
    index = index_for(settings)
    entries = manifest_for(settings).entries()
    stored = index.stored_access()
    rewritten = 0
    for source in dict.fromkeys(sources):
        entry = entries.get(source)
        if entry is None:
            continue
        wanted = ",".join(sorted(current.groups(source)))
        if set(stored.get(source, {None: 1})) == {wanted}:
            continue
        index.set_access(entry.chunk_ids, current.groups(source))
        rewritten += 1
    return rewritten


class AccessPolicy:
    """What retrieval asks about access: the access in force, and the repair of stale chunks.

    The answering service receives it (it does not import the policy); the decision itself is
    `kbchat.access`, the repair `reconcile_access`.

    Args:
        settings: the settings (read afresh on every call).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def current(self) -> CurrentAccess:
        """The access in force now."""
        from kbchat.access import current_access

        return current_access(self.settings)

    def reconcile(self, current: CurrentAccess, sources: Iterable[str]) -> int:
        """Rewrite these documents' stored access to ``current``."""
        return reconcile_access(self.settings, sources, current)


def stats(settings: Settings, user: User | None = None) -> KnowledgeStats:
    """Figures about the knowledge base; for ``user`` (not ``None``, without full access),
    only the documents and chunks they may read now."""
    with translated():
        index = index_for(settings)
        manifest = manifest_for(settings)
        entries = manifest.entries()
        limited = user is not None and not user.full_access
        if limited:
            readable = readable_sources(settings, user)
            entries = {s: e for s, e in entries.items() if s in readable}
        by_label: dict[str, dict[str, int]] = {}
        for entry in entries.values():
            slot = by_label.setdefault(entry.sensitivity, {"documents": 0, "chunks": 0})
            slot["documents"] += 1
            slot["chunks"] += len(entry.chunk_ids)
        index_stats = index.stats()
        last = manifest.last_run()
        return KnowledgeStats(
            documents=len(entries),
            chunks=(
                sum(len(e.chunk_ids) for e in entries.values()) if limited else index_stats.chunks
            ),
            by_sensitivity=dict(sorted(by_label.items())),
            index_bytes=index_stats.size_bytes,
            index_location=index_stats.location,
            embedder=index_stats.embedder,
            last_ingest=last[0] if last else None,
            last_report=last[1] if last else None,
            failed_files=len(manifest.failures()),
            ingest_running=ingest_running(settings.paths.index_dir.resolve()),
        )
