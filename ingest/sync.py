"""The ingestion job: bring the index in step with a corpus folder, incrementally and safely.

Guarantees:
- new files are added, changed files replaced (new chunks written before old ones removed),
  deleted files removed from both indexes; unchanged files cost a hash check;
- a file's manifest row is written only after its chunks are in the index, and a journal entry
  made before the write lets a run killed at any point converge, when run again, to the index
  a clean run would build;
- a file that cannot be read is reported and skipped, and whatever was indexed for it stays;
- one ingestion at a time (a lock); searches keep working meanwhile;
- vectors of two embedders are never mixed: when the configured embedding model or backend
  differs from the one that built the index, the run rebuilds it from nothing (as ``full``
  does) and says so in the report's ``notes``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ingest.chunking import ChunkingOptions, chunk_document, sha256_hex
from ingest.discover import discover
from ingest.loaders import LoaderLimits, LoadError, load_document
from ingest.lock import ingest_lock
from ingest.manifest import FileEntry, Manifest
from ingest.sensitivity import SensitivityError, label_for
from vectorstore.index import KnowledgeIndex
from vectorstore.records import ChunkRecord

# Bump when loading or chunking changes in a way that alters chunks of unchanged files.
PIPELINE_VERSION = 1


# Chunks embedded together: several small files share one pass of the model.
EMBED_BATCH = 512


def _hash(record: ChunkRecord) -> str:
    return str(record.metadata["content_hash"])


@dataclass(frozen=True)
class _Prepared:
    """A file loaded and chunked, waiting for its vectors."""

    entry: FileEntry
    records: list[ChunkRecord]
    old_ids: tuple[str, ...] | None  # None: the file is new


class IngestError(RuntimeError):
    """The run itself cannot complete (as opposed to one file failing)."""


@dataclass(frozen=True)
class IngestOptions:
    """What an ingestion run needs besides the index.

    Attributes:
        corpus_dir: the folder of documents.
        max_file_bytes: larger files are skipped with a reason.
        chunking: chunk sizes.
        confidential_paths: glob patterns of confidential files (relative to the corpus).
        default_sensitivity: label of documents with no front matter label or path rule.
        full: rebuild from nothing instead of syncing.
        sensitivity_overrides: labels an admin set per file (corpus-relative POSIX path ->
            label); one replaces the file's front matter, a confidential path still wins (see
            `ingest.sensitivity.label_for`). Changing one re-processes only that file.
        loader_limits: what one DOCX, PDF or HTML file may ask of its parser; a file over a
            limit fails with the limit named, the rest of the run goes on.
    """

    corpus_dir: Path
    max_file_bytes: int = 25 * 1024 * 1024
    chunking: ChunkingOptions = field(default_factory=ChunkingOptions)
    confidential_paths: tuple[str, ...] = ("hr/private/**",)
    default_sensitivity: str = "internal"
    full: bool = False
    sensitivity_overrides: Mapping[str, str] = field(default_factory=dict)
    loader_limits: LoaderLimits = field(default_factory=LoaderLimits)


@dataclass(frozen=True)
class Progress:
    """A progress report: ``done`` of ``total`` files handled, ``current`` being worked on."""

    done: int
    total: int
    current: str
    phase: str


ProgressCallback = Callable[[Progress], None]


@dataclass
class IngestReport:
    """What a run did (the shape of ``kbchat ingest --json``).

    ``notes`` says what, besides files, made the run do more than usual (a change of embedder).
    """

    files_added: int = 0
    files_updated: int = 0
    files_removed: int = 0
    files_unchanged: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_total: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """The report as plain data."""
        return asdict(self)


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _settings_key(
    options: IngestOptions, sensitivity_rule: bool, embedder: str, override: str | None = None
) -> str:
    """What, besides the file's bytes, decides its chunks: a change re-processes the file.

    An admin's label for the file is part of the key only when there is one, so that files
    without a label keep the keys they had before labels existed.
    """
    parts: list[object] = [
        PIPELINE_VERSION,
        options.chunking.chunk_size,
        options.chunking.chunk_overlap,
        options.default_sensitivity,
        sensitivity_rule,
        embedder,
    ]
    if override:
        parts.append(override)
    return sha256_hex(json.dumps(parts))[:16]


class IngestJob:
    """One ingestion run over a corpus folder into an index.

    Args:
        index: the knowledge index to keep in step.
        manifest: the manifest of what is indexed.
        options: the corpus folder and how to cut it.
        progress: called as files are handled.
    """

    def __init__(
        self,
        index: KnowledgeIndex,
        manifest: Manifest,
        options: IngestOptions,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.index = index
        self.manifest = manifest
        self.options = options
        self._progress = progress or (lambda _p: None)
        self.report = IngestReport()

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> IngestReport:
        """Run the job under the ingestion lock.

        Raises:
            IngestLockedError: another ingestion is running.
            IngestError: the corpus folder is missing or the index cannot be written.
        """
        started = time.perf_counter()
        corpus = self.options.corpus_dir
        if not corpus.is_dir():
            raise IngestError(f"Corpus folder {corpus} does not exist (set KBCHAT_CORPUS_DIR).")
        with ingest_lock(self.index.index_dir):
            changed = self._embedder_changed()
            if self.options.full or changed:
                # The manifest first: a run killed in between finds the index as it was (and
                # the embedder change again), or empty; both converge.
                self.manifest.clear()
                self.index.reset()
            self._recover()
            self.index.record_embedder()
            files, skipped = discover(corpus)
            self.report.skipped = [{"path": s.path, "reason": s.reason} for s in skipped]
            entries = self.manifest.entries()
            plan = self._plan(files, entries)
            removed = sorted(set(entries) - set(files))
            total = len(plan) + len(removed)
            done = 0
            for source in removed:
                self._progress(Progress(done, total, source, "removing"))
                self._remove(source, entries[source])
                done += 1
            now = _utc_now()
            batch: list[_Prepared] = []
            for source, (path, data, file_hash, rule) in plan.items():
                self._progress(Progress(done, total, source, "ingesting"))
                prepared = self._prepare(
                    source, path, data, file_hash, rule, entries.get(source), now
                )
                if prepared is None:
                    done += 1
                    continue
                batch.append(prepared)
                if sum(len(p.records) for p in batch) >= EMBED_BATCH:
                    done = self._write_batch(batch, done, total)
                    batch = []
            done = self._write_batch(batch, done, total)
            self._progress(Progress(done, total, "", "done"))
            self.manifest.forget_failures(set(files))
            self.report.chunks_total = self.index.count()
            self.report.seconds = round(time.perf_counter() - started, 3)
            self.manifest.record_run(_utc_now(), self.report.to_dict())
        return self.report

    def _embedder_changed(self) -> bool:
        """Whether the index holds vectors of another embedder (model or backend).

        Its vectors cannot be mixed with the configured embedder's, nor reused for unchanged
        text: the run starts from an empty index, as a full rebuild does, and says so.
        """
        built = self.index.built_with()
        if built is None or built.name == self.index.embedder.name:
            return False
        # A run killed while emptying the index may have emptied only one side of it.
        chunks = max(self.index.count(), self.index.keyword.count())
        if chunks:
            note = f"{built.change_to(self.index.embedder_info)}: re-embedding all {chunks} chunks"
            self.report.notes.append(note)
            self._progress(Progress(0, 0, note, "re-embedding"))
        return True

    def _plan(
        self, files: dict[str, Path], entries: dict[str, FileEntry]
    ) -> dict[str, tuple[Path, bytes | None, str, bool]]:
        """Hash every file; keep those that are new or changed (or whose settings changed)."""
        plan: dict[str, tuple[Path, bytes | None, str, bool]] = {}
        embedder = self.index.embedder.name
        for position, (source, path) in enumerate(files.items()):
            self._progress(Progress(position, len(files), source, "scanning"))
            rule = (
                label_for(
                    source, {}, confidential_paths=self.options.confidential_paths, default="public"
                )
                == "confidential"
            )
            try:
                size = path.stat().st_size
                data = path.read_bytes() if size <= self.options.max_file_bytes else None
            except OSError:
                data = None  # the loader reports the reason
            file_hash = sha256_hex(data) if data is not None else ""
            entry = entries.get(source)
            key = _settings_key(self.options, rule, embedder, self._override(source))
            unchanged = entry and data is not None and entry.file_hash == file_hash
            if unchanged and entry and entry.settings_key == key:
                self.report.files_unchanged += 1
                continue
            plan[source] = (path, data, file_hash, rule)
        return plan

    # -- one file ----------------------------------------------------------------------------

    def _override(self, source: str) -> str | None:
        """The admin's label for a file, if any."""
        return self.options.sensitivity_overrides.get(source) or None

    def _fail(self, source: str, reason: str) -> None:
        self.report.failed.append({"path": source, "reason": reason})
        self.manifest.record_failure(source, reason, _utc_now())

    def _prepare(
        self,
        source: str,
        path: Path,
        data: bytes | None,
        file_hash: str,
        rule: bool,
        old: FileEntry | None,
        now: str,
    ) -> _Prepared | None:
        """Load and chunk one file; ``None`` (and a reported failure) when it cannot be read."""
        try:
            document = load_document(
                path, max_bytes=self.options.max_file_bytes, limits=self.options.loader_limits
            )
            sensitivity = label_for(
                source,
                document.metadata,
                confidential_paths=self.options.confidential_paths,
                default=self.options.default_sensitivity,
                override=self._override(source),
            )
            if data is None or not file_hash:  # unreadable while planning, readable now
                data = path.read_bytes()
                file_hash = sha256_hex(data)
        except (LoadError, SensitivityError) as err:
            self._fail(source, str(err))
            return None
        except OSError as err:
            self._fail(source, f"cannot read file: {err.strerror}")
            return None
        records = chunk_document(
            document,
            source=source,
            sensitivity=sensitivity,
            file_hash=file_hash,
            ingested_at=now,
            options=self.options.chunking,
        )
        if not records:
            self._fail(source, "no text could be extracted")
            return None
        entry = FileEntry(
            source=source,
            file_hash=file_hash,
            settings_key=_settings_key(
                self.options, rule, self.index.embedder.name, self._override(source)
            ),
            size=len(data),
            format=document.format,
            title=document.title,
            sensitivity=sensitivity,
            chunk_ids=tuple(r.chunk_id for r in records),
            ingested_at=now,
        )
        return _Prepared(entry, records, tuple(old.chunk_ids) if old else None)

    def _write_batch(self, batch: list[_Prepared], done: int, total: int) -> int:
        """Embed a batch of files in one pass, then write them to the index one by one.

        Embedding chunks of many small files together keeps the model's batches full; each
        file is still written, and committed to the manifest, on its own.
        """
        if not batch:
            return done
        vectors = self._vectors(batch)
        for prepared, file_vectors in zip(batch, vectors, strict=True):
            entry = prepared.entry
            self._progress(Progress(done, total, entry.source, "writing"))
            new_ids = list(entry.chunk_ids)
            old_ids = list(prepared.old_ids or ())
            self.manifest.journal_begin(entry.source, new_ids)
            self.index.write(prepared.records, file_vectors)
            stale = sorted(set(old_ids) - set(new_ids))
            self.index.delete(stale)
            self.manifest.commit_file(entry)
            if prepared.old_ids is None:
                self.report.files_added += 1
            else:
                self.report.files_updated += 1
            self.report.chunks_added += len(set(new_ids) - set(old_ids))
            self.report.chunks_removed += len(stale)
            done += 1
        return done

    def _vectors(self, batch: list[_Prepared]) -> list[np.ndarray]:
        """Vectors of each file's records, reusing stored vectors for unchanged text."""
        reusable: dict[str, np.ndarray] = {}
        old_ids = [cid for p in batch for cid in (p.old_ids or ())]
        if old_ids:
            old_meta = self.index.keyword.get(old_ids)
            by_hash = {str(meta.get("content_hash")): cid for cid, (_t, meta) in old_meta.items()}
            wanted = {
                _hash(r): by_hash[_hash(r)] for p in batch for r in p.records if _hash(r) in by_hash
            }
            stored = self.index.stored_embeddings(sorted(set(wanted.values())))
            reusable = {h: stored[cid] for h, cid in wanted.items() if cid in stored}
        todo: dict[str, str] = {}
        for p in batch:
            for r in p.records:
                if _hash(r) not in reusable:
                    todo.setdefault(_hash(r), r.embed_text)
        fresh = self.index.embedder.embed_documents(list(todo.values()))
        computed = dict(zip(todo, fresh, strict=True))
        computed.update(reusable)
        return [np.stack([computed[_hash(r)] for r in p.records]) for p in batch]

    def _remove(self, source: str, entry: FileEntry) -> None:
        self.manifest.journal_begin(source, [])
        self.index.delete(entry.chunk_ids)
        self.manifest.remove_file(source)
        self.report.files_removed += 1
        self.report.chunks_removed += len(entry.chunk_ids)

    # -- convergence -------------------------------------------------------------------------

    def _recover(self) -> None:
        """Undo what an interrupted run may have half-written, and re-check the index.

        Chunks written under a journal entry and not listed in the manifest are removed, and
        the file is marked for processing again. If the index still disagrees with the
        manifest (counts differ), the two are reconciled id by id.
        """
        entries = self.manifest.entries()
        for source, new_ids in self.manifest.journal().items():
            keep = set(entries[source].chunk_ids) if source in entries else set()
            self.index.delete([cid for cid in new_ids if cid not in keep])
            if source in entries:
                self.manifest.invalidate(source)
            self.manifest.journal_end(source)
        entries = self.manifest.entries()
        expected = {cid for entry in entries.values() for cid in entry.chunk_ids}
        if self.index.chroma.count() == len(expected) == self.index.keyword.count():
            return
        dense_ids = self.index.chroma.ids()
        keyword_ids = self.index.keyword.ids()
        self.index.delete((dense_ids | keyword_ids) - expected)
        present = dense_ids & keyword_ids
        for source, entry in entries.items():
            if not set(entry.chunk_ids) <= present:
                self.manifest.invalidate(source)
