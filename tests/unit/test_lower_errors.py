"""`kbchat.lower_errors.translated`: each ingest/ and vectorstore/ error becomes the matching
`KbchatError`, its message kept and the original error as ``__cause__``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.access import AccessError
from ingest.loaders import LoadError
from ingest.loaders.limits import LimitExceededError
from ingest.lock import IngestLockedError
from ingest.sensitivity import SensitivityError
from ingest.sync import IngestError
from kbchat.errors import (
    ConfigError,
    DocumentReadError,
    EmbeddingError,
    IndexEmptyError,
    IndexUnavailableError,
    IngestBusyError,
    IngestionError,
    KbchatError,
)
from kbchat.lower_errors import translated
from vectorstore.chroma_store import ChromaStoreError
from vectorstore.embedder import EmbedderError
from vectorstore.index import EmbedderInfo, IndexMismatchError

pytestmark = pytest.mark.unit

MISMATCH = IndexMismatchError(
    Path("/srv/index"), EmbedderInfo("all-MiniLM-L6-v2", "torch"), EmbedderInfo("e5", "onnx")
)


@pytest.mark.parametrize(
    ("lower", "core"),
    [
        (
            ChromaStoreError("Cannot open the Chroma index (localhost:8000): refused"),
            IndexUnavailableError,
        ),
        (
            EmbedderError("The embedding model folder /m is missing: set KBCHAT_EMBEDDING_MODEL"),
            EmbeddingError,
        ),
        (MISMATCH, EmbeddingError),
        (
            IngestLockedError("Another ingestion is running on /srv/index: wait for it"),
            IngestBusyError,
        ),
        (IngestError("The document folder /docs does not exist: create it"), IngestionError),
        (LoadError("not a PDF"), DocumentReadError),
        (LimitExceededError("over a limit for hostile documents: pages"), DocumentReadError),
        (AccessError("a group name is empty"), ConfigError),
        (SensitivityError("unknown sensitivity label 'secret' in front matter"), ConfigError),
    ],
)
def test_each_lower_error_becomes_its_kbchat_error(
    lower: Exception, core: type[KbchatError]
) -> None:
    with pytest.raises(KbchatError) as caught, translated():
        raise lower
    assert type(caught.value) is core
    assert str(caught.value) == str(lower)
    assert caught.value.__cause__ is lower


def test_a_busy_ingestion_is_an_ingestion_error() -> None:
    with pytest.raises(IngestionError), translated():
        raise IngestLockedError("Another ingestion is running")


def test_the_fix_is_added_only_when_the_index_is_unavailable() -> None:
    fix = "Nothing was lost: run ingestion again when it is back."
    with pytest.raises(IndexUnavailableError) as caught, translated(unavailable_fix=fix):
        raise ChromaStoreError("Cannot open the Chroma index (localhost:8000)")
    assert str(caught.value) == f"Cannot open the Chroma index (localhost:8000). {fix}"
    with pytest.raises(IngestionError) as other, translated(unavailable_fix=fix):
        raise IngestError("The document folder /docs does not exist")
    assert str(other.value) == "The document folder /docs does not exist"


@pytest.mark.parametrize("error", [IndexEmptyError(), ValueError("a bug"), OSError("disk")])
def test_other_errors_pass_unchanged(error: Exception) -> None:
    with pytest.raises(type(error)) as caught, translated():
        raise error
    assert caught.value is error
