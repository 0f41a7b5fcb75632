"""The one translation of ingest/ and vectorstore/ errors into `KbchatError`s, at the core's edge.

The lower layers never import kbchat, so they raise their own bases (`EmbedderError`,
`IngestError`, `ChromaStoreError`...). Every core entry point into them runs inside
`translated()`, which turns such an error into the matching `KbchatError` subclass with the
same message (it already names the file, the reason and the fix) and the original as its
``__cause__``. Kept apart from `kbchat.errors` so that importing an error class loads neither
the index nor the loaders.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ingest.access import AccessError
from ingest.loaders import LoadError
from ingest.lock import IngestLockedError
from ingest.sensitivity import SensitivityError
from ingest.sync import IngestError
from kbchat.errors import (
    ConfigError,
    DocumentReadError,
    EmbeddingError,
    IndexUnavailableError,
    IngestBusyError,
    IngestionError,
    KbchatError,
)
from vectorstore.chroma_store import ChromaStoreError
from vectorstore.embedder import EmbedderError

#: Each lower-layer error and the `KbchatError` it becomes (the first match wins; a subclass
#: such as vectorstore's IndexMismatchError follows its base, EmbedderError).
TRANSLATIONS: tuple[tuple[type[Exception], type[KbchatError]], ...] = (
    (ChromaStoreError, IndexUnavailableError),
    (EmbedderError, EmbeddingError),
    (IngestLockedError, IngestBusyError),
    (IngestError, IngestionError),
    (LoadError, DocumentReadError),
    (AccessError, ConfigError),
    (SensitivityError, ConfigError),
)
_LOWER = tuple(lower for lower, _core in TRANSLATIONS)


@contextmanager
def translated(*, unavailable_fix: str | None = None) -> Iterator[None]:
    """Run a call into ingest/ or vectorstore/, raising its errors as `KbchatError`s.

    Args:
        unavailable_fix: what the user should do when the index cannot be used, added to the
            message of an `IndexUnavailableError` (what to do depends on what was interrupted:
            "run ingestion again", "run ingestion again to finish removing X").

    Raises:
        KbchatError: the subclass `TRANSLATIONS` gives, with the lower error's message and
            the lower error as ``__cause__``.
    """
    try:
        yield
    except _LOWER as err:
        core = next(core for lower, core in TRANSLATIONS if isinstance(err, lower))
        message = str(err)
        if unavailable_fix and core is IndexUnavailableError:
            message = f"{message}. {unavailable_fix}"
        raise core(message) from err
