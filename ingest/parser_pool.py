"""Files are parsed in worker processes, each file under a time and a memory limit.

A hostile or broken file (a DOCX that inflates to gigabytes, a PDF whose parser loops) can
neither stall nor exhaust the process that runs ingestion (the UI's, or ``kbchat ingest``):
the worker that parses it gets an address-space limit (``RLIMIT_AS``) above what it holds at
start, and is killed when a file takes longer than the time limit. Such a file is reported as
failed with the reason, and the worker is replaced; the other files go on.

Workers are started once and reused for every file (and every run of the process), so a run
pays neither the interpreter start nor the import of the PDF/DOCX/HTML parsers per file.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ingest.loaders import LoadedDocument, LoaderLimits, LoadError, NoTextError, Section

# The function that parses a file in a worker, as "module:name" (tests swap in a hostile one).
DEFAULT_LOADER = "ingest.loaders:load_document"
# The parser modules a worker imports once, at start.
_PRELOAD = ("markdown", "text", "pdf", "docx", "html", "csv")
_POLL_S = 0.1  # how often a wait checks whether the run was stopped
_START_TIMEOUT_S = 120.0

# A file's payload from a worker: (title, format, sections, metadata) or an error.
_Payload = tuple[str, str, tuple[Section, ...], dict[str, str]]


@dataclass(frozen=True)
class ParserLimits:
    """Limits of one file's parsing.

    Attributes:
        timeout_s: seconds a file may take; the worker is killed after that.
        memory_mb: megabytes of address space a file's parsing may add to the worker's
            (``RLIMIT_AS``, enforced on Linux); 0 means no limit.
        workers: worker processes parsing files at once.
    """

    timeout_s: float = 60.0
    memory_mb: int = 1024
    workers: int = 1


class ParseStopped(Exception):
    """The caller stopped waiting (the run is ending)."""


# -- the worker ------------------------------------------------------------------------------


def _address_space() -> int | None:
    """Bytes of address space this process holds now (Linux), or ``None``."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _limit_memory(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    try:
        import resource
    except ImportError:  # not a Unix: only the time limit applies
        return
    held = _address_space()
    if held is None:
        return
    limit = held + memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _memory_reason(memory_mb: int) -> str:
    return (
        f"parsing needed more than {memory_mb} MB of memory, the limit per file "
        "(KBCHAT_PARSER_MEMORY_MB)"
    )


def _worker_main(conn: Connection, memory_mb: int, loader: str) -> None:
    """Parse files sent by the parent, one at a time, until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    import importlib

    module_name, _, function = loader.partition(":")
    load = getattr(importlib.import_module(module_name), function)

    for fmt in _PRELOAD:
        with contextlib.suppress(ImportError):  # load_document reports it for that format
            importlib.import_module(f"ingest.loaders.{fmt}")
    _limit_memory(memory_mb)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        task_id, path, max_bytes, limits = task
        try:
            extra = {"limits": limits} if limits is not None else {}
            document = load(Path(path), max_bytes=max_bytes, **extra)
            payload: _Payload = (
                document.title,
                document.format,
                document.sections,
                dict(document.metadata),
            )
            conn.send((task_id, "ok", payload))
        except NoTextError as err:
            conn.send((task_id, "no text", str(err)))
        except LoadError as err:
            if isinstance(err.__cause__, MemoryError):
                conn.send((task_id, "memory", _memory_reason(memory_mb)))
                return  # a fresh worker for the next file: this heap may be in pieces
            conn.send((task_id, "error", str(err)))
        except MemoryError:
            conn.send((task_id, "memory", _memory_reason(memory_mb)))
            return


# -- the parent's side ---------------------------------------------------------------------


def _death_reason(process: BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the parser process died ({name}) while reading this file"
    return f"the parser process exited (status {code}) while reading this file"


class _Worker:
    """One worker process and the pipe to it."""

    def __init__(self, memory_mb: int, loader: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main,
            args=(child, memory_mb, loader),
            name="kbchat-parser",
            daemon=True,
        )
        self.process.start()
        child.close()
        self._ready = False

    def wait_ready(self, stop: threading.Event | None) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._ready:
            if stop is not None and stop.is_set():
                raise ParseStopped()
            if self.conn.poll(_POLL_S):
                message = self.conn.recv()
                self._ready = message[0] == "ready"
            elif not self.process.is_alive() or time.monotonic() > deadline:
                raise LoadError(f"cannot start a parser process ({_death_reason(self.process)})")

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(2)
        self.kill()


class ParserPool:
    """Worker processes that load files into `LoadedDocument`s under `ParserLimits`.

    Thread-safe: a call to `load_many` holds the workers it uses until it returns.

    Args:
        limits: the time and memory limits per file, and how many workers.
        loader: the function that parses a file, as ``module:name``; it takes the path and
            ``max_bytes`` and returns a `LoadedDocument` or raises `LoadError`.
    """

    def __init__(self, limits: ParserLimits, loader: str = DEFAULT_LOADER) -> None:
        self.limits = limits
        self.loader = loader
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._next_id = 0

    def start(self) -> None:
        """Start the workers now (otherwise they start at the first file)."""
        workers = [self._take() for _ in range(self.limits.workers)]
        for worker in workers:
            worker.wait_ready(None)
        for worker in workers:
            self._give_back(worker)

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
                worker.kill()
        return _Worker(self.limits.memory_mb, self.loader)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def _task_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def load(
        self, path: Path, *, max_bytes: int, limits: LoaderLimits | None = None
    ) -> LoadedDocument:
        """Load one file in a worker.

        Raises:
            LoadError: the file cannot be ingested, went over a limit, or killed its worker.
        """
        for _source, result in self.load_many(
            [(str(path), path)], max_bytes=max_bytes, limits=limits
        ):
            if isinstance(result, LoadError):
                raise result
            return result
        raise AssertionError("load_many yields one result per file")

    def load_many(
        self,
        files: Iterable[tuple[str, Path]],
        *,
        max_bytes: int,
        limits: LoaderLimits | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[tuple[str, LoadedDocument | LoadError]]:
        """Load files in the workers, yielding ``(key, document or error)`` in input order.

        Up to ``limits.workers`` files are parsed at once; a file over a limit yields a
        `LoadError` naming the limit and its setting; a file with nothing to index yields a
        `NoTextError`. Setting ``stop`` ends the iteration
        (`ParseStopped`) within a tenth of a second; a worker busy at that moment is killed.
        ``limits`` (what one DOCX, PDF or HTML file may ask of its parser) go to the loader
        as its ``limits`` argument; None calls it without one.
        """
        pending = iter(files)
        in_flight: list[tuple[str, _Worker, int, float]] = []  # oldest first
        try:
            while True:
                while len(in_flight) < max(1, self.limits.workers):
                    item = next(pending, None)
                    if item is None:
                        break
                    key, path = item
                    worker = self._take()
                    task_id = self._task_id()
                    try:
                        worker.wait_ready(stop)
                        worker.conn.send((task_id, str(path), max_bytes, limits))
                    except BaseException:
                        worker.kill()
                        raise
                    in_flight.append((key, worker, task_id, time.monotonic()))
                if not in_flight:
                    return
                key, worker, task_id, started = in_flight[0]
                result = self._result(worker, task_id, started, stop)
                in_flight.pop(0)
                if worker.process.is_alive():
                    self._give_back(worker)
                else:
                    worker.kill()
                yield key, result
        finally:
            for _key, worker, _task, _started in in_flight:
                worker.kill()  # its answer would belong to no one

    def _result(
        self, worker: _Worker, task_id: int, started: float, stop: threading.Event | None
    ) -> LoadedDocument | LoadError:
        timeout = self.limits.timeout_s
        while True:
            if stop is not None and stop.is_set():
                raise ParseStopped()
            try:
                ready = worker.conn.poll(_POLL_S)
            except (OSError, EOFError):
                ready = True
            if ready:
                try:
                    answer = worker.conn.recv()
                except (EOFError, OSError):
                    worker.process.join(5)
                    return LoadError(_death_reason(worker.process))
                got_id, kind, value = answer
                if got_id != task_id:  # cannot happen: one task per worker at a time
                    raise RuntimeError(f"parser answered task {got_id}, expected {task_id}")
                if kind == "ok":
                    return _document(value)
                if kind == "no text":
                    return NoTextError.from_reason(value)
                if kind == "memory":
                    worker.process.join(5)
                return LoadError(value)
            if time.monotonic() - started > timeout:
                worker.kill()
                return LoadError(
                    f"parsing took longer than {timeout:g} s, the limit per file "
                    "(KBCHAT_PARSER_TIMEOUT_S)"
                )
            if not worker.process.is_alive() and not worker.conn.poll(0):
                worker.process.join(5)
                return LoadError(_death_reason(worker.process))

    def close(self) -> None:
        """Stop the idle workers (busy ones are stopped by the `load_many` holding them)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()


def _document(payload: Any) -> LoadedDocument:
    title, fmt, sections, metadata = payload
    return LoadedDocument(
        title=title, format=fmt, sections=tuple(sections), metadata=MappingProxyType(metadata)
    )


_pools: dict[tuple[ParserLimits, str], ParserPool] = {}
_pools_lock = threading.Lock()


def shared_pool(limits: ParserLimits, loader: str = DEFAULT_LOADER) -> ParserPool:
    """The process's pool for these limits (its workers are reused by every run)."""
    with _pools_lock:
        pool = _pools.get((limits, loader))
        if pool is None:
            pool = _pools[limits, loader] = ParserPool(limits, loader)
        return pool


def close_shared_pools() -> None:
    """Stop every shared pool's idle workers (at exit; workers also exit with the parent)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()
