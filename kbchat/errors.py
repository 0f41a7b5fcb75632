"""Errors users read as written: each says what went wrong and how to fix it."""

from __future__ import annotations


class KbchatError(Exception):
    """Base class of every error kbchat reports to a user (CLI message, UI notice)."""


class ConfigError(KbchatError):
    """A setting is missing or invalid."""


class IndexEmptyError(KbchatError):
    """The index holds no documents yet."""

    def __init__(self) -> None:
        super().__init__("The index is empty: run ingestion first (`kbchat ingest`).")


class ModelError(KbchatError):
    """A model cannot be loaded or fails while answering."""


class CloudNotAllowedError(KbchatError):
    """The policy gate refuses the cloud model for this request."""


class QuestionTooLongError(KbchatError):
    """A question is longer than the configured limit (``KBCHAT_MAX_QUESTION_CHARS``)."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(
            f"The question is {length:,} characters long; questions may have at most "
            f"{limit:,} (KBCHAT_MAX_QUESTION_CHARS). Shorten it, or ask an admin to raise the "
            "limit."
        )


class IndexUnavailableError(KbchatError):
    """The index cannot be opened, read or written (a missing folder, a Chroma server down)."""


class EmbeddingError(KbchatError):
    """The embedding model cannot be used, or the index was built by another one."""


class IngestionError(KbchatError):
    """An ingestion run cannot complete (as opposed to one file failing)."""


class IngestBusyError(IngestionError):
    """Another ingestion is running on the same index."""


class DocumentReadError(KbchatError):
    """A document cannot be loaded: its format, its size or its text."""
