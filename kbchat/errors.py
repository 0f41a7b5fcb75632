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
