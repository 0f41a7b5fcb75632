"""Watch mode: keep the index in step with the corpus folder by polling it.

Every ``interval`` seconds the folder's supported files are listed with their sizes and
modification times (plus the admin's run-time settings file, so a changed label or path rule
is applied too). When that picture changes, and then stays the same for one more interval
(a file being copied is not ingested half-written), an ordinary incremental ingestion runs:
the same lock, journal and per-file reports as ``kbchat ingest``. A run that could not
complete (another ingestion holds the lock, the index is unreachable) is retried at every
poll until one completes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ingest.discover import discover
from ingest.sync import IngestReport, ProgressCallback
from kbchat.errors import KbchatError
from kbchat.ingestion import tracked_ingest
from kbchat.overrides import overrides_path
from kbchat.settings import Settings

Snapshot = dict[str, tuple[int, int]]
MIN_INTERVAL_S = 0.1


def snapshot(corpus: Path, extra: Path | None = None) -> Snapshot:
    """Size and modification time (ns) of every supported file, by corpus-relative path.

    Args:
        corpus: the folder.
        extra: one more file to watch (listed under its absolute path), if it exists.
    """
    found, _skipped = discover(corpus) if corpus.is_dir() else ({}, [])
    picture: Snapshot = {}
    for source, path in found.items():
        try:
            info = path.stat()
        except OSError:
            continue  # deleted while listing: the next poll sees it gone
        picture[source] = (info.st_size, info.st_mtime_ns)
    if extra is not None:
        try:
            info = extra.stat()
            picture[str(extra)] = (info.st_size, info.st_mtime_ns)
        except OSError:
            pass
    return picture


def watch(
    settings: Settings,
    corpus: Path | None = None,
    *,
    interval: float = 2.0,
    full: bool = False,
    on_report: Callable[[IngestReport], None] | None = None,
    on_error: Callable[[KbchatError], None] | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    ingest: Callable[..., IngestReport] | None = None,
) -> None:
    """Ingest now, then again whenever the folder changes, until ``stop`` is set.

    Ctrl-C (``KeyboardInterrupt``) propagates to the caller; an interrupted run converges at
    the next one, as any ingestion does.

    Args:
        settings: the settings.
        corpus: the folder (default: the configured one).
        interval: seconds between two looks at the folder.
        full: make the first run a full rebuild (later runs are incremental).
        on_report: receives the report of each run.
        on_error: receives the error of a run that could not complete (it is retried).
        progress: progress callback of each run.
        stop: set it to end the loop (checked every ``interval``).
        ingest: the function that runs one ingestion (default
            `kbchat.ingestion.tracked_ingest`, which also shows the run on the admin page).
    """
    if interval < MIN_INTERVAL_S:
        raise ValueError(f"the interval must be at least {MIN_INTERVAL_S} s")
    run = ingest or partial(tracked_ingest, origin="watch")
    folder = corpus or settings.paths.corpus_dir
    extra = overrides_path(settings)
    stop = stop or threading.Event()
    ingested: Snapshot | None = None  # what the folder looked like when the last run started
    seen = snapshot(folder, extra)
    first = True
    while not stop.is_set():
        if ingested != seen:
            try:
                report = run(settings, corpus, full=full and first, progress=progress)
            except KbchatError as err:
                if on_error is not None:
                    on_error(err)
            else:
                ingested = seen
                first = False
                if on_report is not None:
                    on_report(report)
        if stop.wait(interval):
            break
        now = snapshot(folder, extra)
        while now != seen and not stop.is_set():  # changing: wait until it settles
            seen = now
            if stop.wait(interval):
                return
            now = snapshot(folder, extra)
