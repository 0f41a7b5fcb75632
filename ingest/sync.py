"""The ingestion job: bring the index in step with a corpus folder, incrementally and safely.

Guarantees:
- new files are added, changed files replaced (new chunks written before old ones removed),
  deleted files removed from both indexes; unchanged files cost a hash check;
- a file's manifest row is written only after its chunks are in the index, and a journal entry
  made before the write lets a run killed at any point converge, when run again, to the index
  a clean run would build;
- a file that cannot be read is reported as failed, and whatever was indexed for it stays;
- a file with nothing to index (empty, only front matter, a CSV header, a PDF without a text
  layer) is not a failure: it is listed as skipped with the reason, and what was indexed for
  it is removed, as for a deleted file (the document now says nothing);
- one ingestion at a time (a lock); searches keep working meanwhile;
- vectors of two embedders are never mixed: when the configured embedding model or backend
  differs from the one that built the index, the run rebuilds it from nothing (as ``full``
  does) and says so in the report's ``notes``.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ingest.access import AccessDecision, access_for, front_matter_access, undetermined
from ingest.chunking import ChunkingOptions, chunk_document, sha256_hex
from ingest.discover import discover
from ingest.links import link_targets, strictest
from ingest.loaders import NO_TEXT, LoadedDocument, LoaderLimits, LoadError, NoTextError
from ingest.lock import ingest_lock
from ingest.manifest import FileEntry, Manifest
from ingest.parser_pool import DEFAULT_LOADER, ParserLimits, ParseStopped, shared_pool
from ingest.sensitivity import SensitivityError, label_for
from vectorstore.access import access_metadata
from vectorstore.index import KnowledgeIndex
from vectorstore.records import ChunkRecord

# Bump when loading or chunking changes in a way that alters chunks of unchanged files.
PIPELINE_VERSION = 1


# Files are embedded and written in batches: one pass of the model and one write to each
# index for several files. The first batch is one file and each next one may hold twice as
# many chunks, up to EMBED_BATCH: the encoder starts as soon as the first file is parsed, and
# every batch is written while the next one is encoded. Batches depend only on the files'
# chunk counts, never on timing, so a run writes the same batches every time.
EMBED_BATCH = 64
# Parsed files waiting for the encoder (bounds memory when parsing runs ahead).
LOADED_QUEUE = 256


def _hash(record: ChunkRecord) -> str:
    return str(record.metadata["content_hash"])


@dataclass(frozen=True)
class _Prepared:
    """A file loaded and chunked, waiting for its vectors."""

    entry: FileEntry
    records: list[ChunkRecord]
    old_ids: tuple[str, ...] | None  # None: the file is new


@dataclass(frozen=True)
class _Failed:
    """A file that cannot be ingested, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class _NoText:
    """A file with nothing to index, why, and what was indexed for it before (to remove)."""

    source: str
    reason: str
    old_ids: tuple[str, ...]


_Item = _Prepared | _Failed | _NoText


@dataclass(frozen=True)
class _Batch:
    """Files embedded together, in plan order, with failures and empty files met on the way."""

    items: list[_Item]
    vectors: list[np.ndarray]  # one matrix per _Prepared item, in order


class _End:
    """The end of a stage's output; carries the exception that ended it, if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


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
        parser_limits: time and memory limits of parsing one file (in a worker process).
        loader: the function the parser workers call on each file, as ``module:name``.
        access_rules: path glob -> groups that may read the matching documents.
        default_access: the groups when neither front matter, rule nor admin names any.
        access_overrides: groups an admin set per file (corpus-relative path -> groups).
        access_unusable: why the admin's settings cannot be used (then every document's
            access is the empty set: fail closed); ``None`` when they can.
    """

    corpus_dir: Path
    max_file_bytes: int = 25 * 1024 * 1024
    chunking: ChunkingOptions = field(default_factory=ChunkingOptions)
    confidential_paths: tuple[str, ...] = ("hr/private/**",)
    default_sensitivity: str = "internal"
    full: bool = False
    sensitivity_overrides: Mapping[str, str] = field(default_factory=dict)
    loader_limits: LoaderLimits = field(default_factory=LoaderLimits)
    parser_limits: ParserLimits = field(default_factory=ParserLimits)
    loader: str = DEFAULT_LOADER
    access_rules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_access: tuple[str, ...] = ("everyone",)
    access_overrides: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    access_unusable: str | None = None


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
    access_rewritten: int = 0

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
        self._links: dict[str, str] = {}  # link path -> target path, for links in the corpus

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
            self._links = link_targets(corpus, files)
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
            done = self._ingest(plan, entries, _utc_now(), done, total)
            self._progress(Progress(done, total, "", "done"))
            self.manifest.forget_failures(set(files))
            self.report.access_rewritten = self._reconcile_access(files)
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

    def _plan(self, files: dict[str, Path], entries: dict[str, FileEntry]) -> dict[str, _Planned]:
        """Hash every file; keep those that are new or changed (or whose settings changed)."""
        plan: dict[str, _Planned] = {}
        embedder = self.index.embedder.name
        for position, (source, path) in enumerate(files.items()):
            self._progress(Progress(position, len(files), source, "scanning"))
            rule = any(
                label_for(
                    path_, {}, confidential_paths=self.options.confidential_paths, default="public"
                )
                == "confidential"
                for path_ in self._rule_paths(source)
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
            plan[source] = _Planned(path, file_hash, len(data) if data is not None else 0, rule)
        return plan

    # -- the pipeline: parse | embed | write ---------------------------------------------------

    def _ingest(
        self,
        plan: dict[str, _Planned],
        entries: dict[str, FileEntry],
        now: str,
        done: int,
        total: int,
    ) -> int:
        """Parse, embed and write the planned files, the three stages overlapping.

        Files are parsed in worker processes (`ingest.parser_pool`) by a loader thread, and
        embedded in batches by an encoder thread, while this thread writes the batch before;
        every write to the index and the manifest happens here, in plan order, each file under
        its journal entry, so a crash leaves what a crash of the one-stage job left.
        """
        if not plan:
            return done
        stop = threading.Event()
        loaded: queue.Queue[_Item | _End] = queue.Queue(LOADED_QUEUE)
        encoded: queue.Queue[_Batch | _End] = queue.Queue(1)
        stages = [
            threading.Thread(
                target=self._load_stage,
                args=(plan, entries, now, loaded, stop),
                name="ingest-load",
                daemon=True,
            ),
            threading.Thread(
                target=self._encode_stage,
                args=(loaded, encoded, stop),
                name="ingest-embed",
                daemon=True,
            ),
        ]
        for stage in stages:
            stage.start()
        try:
            while True:
                batch = encoded.get()
                if isinstance(batch, _End):
                    if batch.error is not None:
                        raise batch.error
                    return done
                done = self._write_batch(batch, done, total)
        finally:
            stop.set()
            for stage in stages:
                stage.join()

    def _load_stage(
        self,
        plan: dict[str, _Planned],
        entries: dict[str, FileEntry],
        now: str,
        out: queue.Queue[_Item | _End],
        stop: threading.Event,
    ) -> None:
        """Parse the planned files in the parser workers and chunk them, in plan order."""
        try:
            pool = shared_pool(self.options.parser_limits, self.options.loader)
            files = ((source, planned.path) for source, planned in plan.items())
            limits = self.options.loader_limits if self.options.loader == DEFAULT_LOADER else None
            for source, result in pool.load_many(
                files, max_bytes=self.options.max_file_bytes, limits=limits, stop=stop
            ):
                old = entries.get(source)
                item: _Item
                if isinstance(result, NoTextError):
                    item = _NoText(source, str(result), old.chunk_ids if old else ())
                elif isinstance(result, LoadError):
                    item = _Failed(source, str(result))
                else:
                    item = self._prepare(source, plan[source], old, now, result)
                _put(out, item, stop)
            _put(out, _End(), stop)
        except (ParseStopped, _Stopped):
            return
        except BaseException as err:  # noqa: BLE001 - the writing thread re-raises it
            _put_end(out, err, stop)

    def _encode_stage(
        self,
        source: queue.Queue[_Item | _End],
        out: queue.Queue[_Batch | _End],
        stop: threading.Event,
    ) -> None:
        """Group parsed files into batches (see `EMBED_BATCH`) and embed each batch."""
        try:
            cap, chunks = 1, 0
            items: list[_Item] = []
            for item in _drain(source, stop):
                items.append(item)
                if isinstance(item, _Prepared):
                    chunks += len(item.records)
                if chunks >= cap:
                    _put(out, self._embed(items), stop)
                    items, chunks, cap = [], 0, min(EMBED_BATCH, cap * 2)
            if items:
                _put(out, self._embed(items), stop)
            _put(out, _End(), stop)
        except _Stopped:
            return
        except BaseException as err:  # noqa: BLE001 - the writing thread re-raises it
            _put_end(out, err, stop)

    def _embed(self, items: list[_Item]) -> _Batch:
        prepared = [item for item in items if isinstance(item, _Prepared)]
        return _Batch(items, self._vectors(prepared) if prepared else [])

    # -- one file ----------------------------------------------------------------------------

    def _rule_paths(self, source: str) -> tuple[str, ...]:
        """The paths whose label rules apply to a file: its own, and a link's target too."""
        target = self._links.get(source)
        return (source,) if target is None else (source, target)

    def _override(self, source: str) -> str | None:
        """The admin's label for a file, if any."""
        return self.options.sensitivity_overrides.get(source) or None

    def _access(self, source: str, stated: str | None) -> AccessDecision:
        """Who may read a file, given its front matter's ``access`` (`ingest.access`)."""
        if self.options.access_unusable:
            return undetermined(self.options.access_unusable)
        return access_for(
            self._rule_paths(source),
            stated,
            rules=self.options.access_rules,
            default=self.options.default_access,
            overrides=self.options.access_overrides,
        )

    def _reconcile_access(self, files: dict[str, Path]) -> int:
        """Rewrite the stored access of every document whose access in force differs (a rule
        or the default changed, a chunk predates access); returns how many documents."""
        stored = self.index.stored_access()
        rewritten = 0
        for source, entry in self.manifest.entries().items():
            path = files.get(source)
            if path is None:
                continue
            try:
                stated, problem = front_matter_access(path, self.options.max_file_bytes)
            except OSError as err:
                stated, problem = None, f"the file cannot be read ({err.strerror})"
            decision = undetermined(problem) if problem else self._access(source, stated)
            wanted = ",".join(sorted(decision.groups))
            if set(stored.get(source, {None: 1})) == {wanted}:
                continue
            self.index.set_access(entry.chunk_ids, decision.groups)
            rewritten += 1
        return rewritten

    def _fail(self, source: str, reason: str) -> None:
        self.report.failed.append({"path": source, "reason": reason})
        self.manifest.record_failure(source, reason, _utc_now())

    def _skip_no_text(self, item: _NoText) -> None:
        """List a file with nothing to index as skipped; remove what was indexed for it.

        Its old passages would otherwise go on being served for a document that now says
        nothing. Journaled as a removal, so a run killed half-way converges.
        """
        reason = item.reason
        if item.old_ids:
            self.manifest.journal_begin(item.source, [])
            self.index.delete(item.old_ids)
            self.report.chunks_removed += len(item.old_ids)
            count = len(item.old_ids)
            reason += f"; its {count} earlier passage{'s' if count > 1 else ''} left the index"
        self.manifest.record_no_text(item.source, reason, _utc_now())
        self.report.skipped.append({"path": item.source, "reason": reason})

    def _prepare(
        self,
        source: str,
        planned: _Planned,
        old: FileEntry | None,
        now: str,
        document: LoadedDocument,
    ) -> _Item:
        """Label and chunk one parsed file; `_Failed` when it cannot be ingested, `_NoText`
        when it gives no chunks."""
        file_hash, size = planned.file_hash, planned.size
        try:
            sensitivity = strictest(
                label_for(
                    path_,
                    document.metadata,
                    confidential_paths=self.options.confidential_paths,
                    default=self.options.default_sensitivity,
                    override=self._override(path_),
                )
                for path_ in self._rule_paths(source)
            )
            if not file_hash:  # unreadable while planning, readable now
                data = planned.path.read_bytes()
                file_hash, size = sha256_hex(data), len(data)
        except SensitivityError as err:
            return _Failed(source, str(err))
        except OSError as err:
            return _Failed(source, f"cannot read file: {err.strerror}")
        records = chunk_document(
            document,
            source=source,
            sensitivity=sensitivity,
            file_hash=file_hash,
            ingested_at=now,
            options=self.options.chunking,
        )
        if not records:
            return _NoText(source, NO_TEXT, old.chunk_ids if old else ())
        stated = document.metadata.get("access") if document.format == "markdown" else None
        access = access_metadata(self._access(source, stated).groups)
        records = [replace(r, metadata={**r.metadata, **access}) for r in records]
        entry = FileEntry(
            source=source,
            file_hash=file_hash,
            settings_key=_settings_key(
                self.options, planned.rule, self.index.embedder.name, self._override(source)
            ),
            size=size,
            format=document.format,
            title=document.title,
            sensitivity=sensitivity,
            chunk_ids=tuple(r.chunk_id for r in records),
            ingested_at=now,
        )
        return _Prepared(entry, records, tuple(old.chunk_ids) if old else None)

    def _write_batch(self, batch: _Batch, done: int, total: int) -> int:
        """Write a batch of embedded files: one write to each index for all of them.

        Each file's new chunk ids are journaled before the write and the file is committed to
        the manifest after it (and after its stale chunks are removed), one by one, so a crash
        at any point leaves every file either committed or under its journal entry.
        """
        prepared = [item for item in batch.items if isinstance(item, _Prepared)]
        first = batch.items[0]
        self._progress(
            Progress(
                done,
                total,
                first.entry.source if isinstance(first, _Prepared) else first.source,
                "ingesting",
            )
        )
        for item in batch.items:
            if isinstance(item, _Failed):
                self._fail(item.source, item.reason)
                done += 1
            elif isinstance(item, _NoText):
                self._skip_no_text(item)
                done += 1
        if not prepared:
            return done
        for item in prepared:
            self.manifest.journal_begin(item.entry.source, list(item.entry.chunk_ids))
        self.index.write(
            [record for item in prepared for record in item.records], np.concatenate(batch.vectors)
        )
        stale: list[str] = []
        for item in prepared:
            stale += sorted(set(item.old_ids or ()) - set(item.entry.chunk_ids))
        self.index.delete(stale)
        for item in prepared:
            entry = item.entry
            self._progress(Progress(done, total, entry.source, "writing"))
            self.manifest.commit_file(entry)
            new_ids, old_ids = set(entry.chunk_ids), set(item.old_ids or ())
            if item.old_ids is None:
                self.report.files_added += 1
            else:
                self.report.files_updated += 1
            self.report.chunks_added += len(new_ids - old_ids)
            self.report.chunks_removed += len(old_ids - new_ids)
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


@dataclass(frozen=True)
class _Planned:
    """A file to process: where it is, its hash and size when planned ('' and 0 if unread)."""

    path: Path
    file_hash: str
    size: int
    rule: bool  # a confidential path rule matches it


class _Stopped(Exception):
    """The run is ending: a stage stops where it is."""


def _put(out: queue.Queue[Any], item: object, stop: threading.Event) -> None:
    while True:
        try:
            out.put(item, timeout=0.1)
            return
        except queue.Full:
            if stop.is_set():
                raise _Stopped() from None


def _put_end(out: queue.Queue[Any], error: BaseException, stop: threading.Event) -> None:
    with contextlib.suppress(_Stopped):
        _put(out, _End(error), stop)


def _drain(source: queue.Queue[Any], stop: threading.Event) -> Iterator[Any]:
    """Items of a stage's queue until its `_End` (re-raising the error it carries)."""
    while True:
        try:
            item = source.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                raise _Stopped() from None
            continue
        if isinstance(item, _End):
            if item.error is not None:
                raise item.error
            return
        yield item
