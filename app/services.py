"""The only place the UI builds core objects: settings, the answerer, the ledger, figures.

Heavy objects are built once per process with ``st.cache_resource``, keyed on the settings
that shape them; the core shares loaded models and indexes underneath as well, so a rerun
never loads anything twice. Errors from building are `KbchatError`s, whose message the page
shows as written.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass

import streamlit as st
from pydantic import SecretStr

from kbchat.answerers import cloud_answerer as build_cloud_answerer
from kbchat.answerers import private_answerer
from kbchat.answering.service import Answerer
from kbchat.assistant import Assistant
from kbchat.errors import KbchatError
from kbchat.identity import User
from kbchat.knowledge import KnowledgeStats, may_read_source, stats
from kbchat.ledger import Ledger, ledger_for
from kbchat.llm.models import configured_model_name
from kbchat.llm.openai_compat import shown_url
from kbchat.policy.gate import CloudGate
from kbchat.policy.labels import current_label
from kbchat.settings import Settings
from kbchat.settings_loading import load_settings

STATS_TTL_S = 15  # knowledge base figures in the sidebar are at most this old
_LOG = logging.getLogger(__name__)


def settings() -> Settings:
    """The settings in force, loaded afresh on every run (cheap): the environment and
    ``.env`` with the admin's run-time changes applied (`kbchat.overrides.load_settings`)."""
    return load_settings()


def _digest(secret: SecretStr | None) -> str:
    """A hash of a secret for a cache key (never the secret itself)."""
    return hashlib.sha256(secret.get_secret_value().encode()).hexdigest() if secret else ""


def _answerer_key(config: Settings) -> str:
    """What decides which answerer is built: index, retrieval and private-model settings."""
    shape = config.model_dump_json(
        include={"paths", "index", "retrieval", "local", "private_server", "generation"}
    )
    return f"{shape}|{_digest(config.private_server.private_api_key)}"


@st.cache_resource(show_spinner=False, max_entries=4)
def _cached_answerer(_config: Settings, key: str) -> Answerer:
    answerer, _resolved = private_answerer(_config)
    if _config.local.local_preload:
        threading.Thread(
            target=_preload, args=(answerer,), name="kbchat-preload", daemon=True
        ).start()
    return answerer


def _preload(answerer: Answerer) -> None:
    """Load the models and read the instructions while nobody waits (KBCHAT_LOCAL_PRELOAD).

    A question asked meanwhile queues behind it, as behind any answer; a failure is logged
    and shows again, as a message, on the first question.
    """
    try:
        answerer.warm_up(model=True)
    except KbchatError as err:
        _LOG.warning("Preloading the private model failed: %s", err)


def answerer(config: Settings | None = None) -> Answerer:
    """The private-model answerer for these settings (built once per process and settings).

    Raises:
        KbchatError: the model or the index cannot be set up (e.g. `ModelError`).
    """
    config = config or settings()
    return _cached_answerer(config, _answerer_key(config))


def _cloud_key(config: Settings) -> str:
    """What decides which cloud answerer is built; the API key enters only as its hash.

    ``model_dump_json`` leaves a `SecretStr` masked, and the key field is excluded anyway.
    """
    shape = config.model_dump_json(
        include={
            "paths": True,
            "index": True,
            "retrieval": True,
            "generation": True,
            "cloud": {"cloud_model", "openai_base_url", "cloud_timeout_s", "cloud_max_retries"},
        }
    )
    return f"{shape}|{_digest(config.cloud.openai_api_key)}"


@st.cache_resource(show_spinner=False, max_entries=4)
def _cached_cloud_answerer(_config: Settings, key: str) -> Answerer:
    return build_cloud_answerer(_config)


def cloud_answerer(config: Settings) -> Answerer:
    """The cloud-model answerer (built once per process and cloud settings).

    Only ever hand it to `kbchat.cloud_answer.start_cloud_answer` or `kbchat.compare.CompareRun`,
    which put every request through the policy gate; never stream from it directly.

    Args:
        config: effective settings (see `effective`).
    """
    return _cached_cloud_answerer(config, _cloud_key(config))


def cloud_unavailable(config: Settings) -> str | None:
    """Why the cloud model cannot be used (switched off, no key), or None when it can.

    Args:
        config: effective settings (see `effective`).
    """
    return CloudGate(config).availability()


def user() -> User:
    """Who is asking in this browser session (see `app.identity`)."""
    from app.identity import current_user

    found = current_user()
    if found is None:  # the pages run only once the user is known (app/main.py)
        raise KbchatError("You are not signed in.")
    return found


def assistant(config: Settings) -> Assistant:
    """The answering service for these effective settings, on the answerers cached here.

    Every answer of the UI goes through it: retrieval for the user, the gate, the ledger.
    """
    cloud = None if cloud_unavailable(config) else cloud_answerer(config)
    return Assistant(config, private=answerer(config), cloud=cloud)


def may_read(source: str) -> bool:
    """Whether the signed-in user may read (and download) this document now."""
    return may_read_source(settings(), user(), source)


def label_in_force(source: str) -> str:
    """A document's label as the cloud gate applies it now (`kbchat.policy.labels`), not the
    index's copy: what the passages under an answer show."""
    return current_label(settings(), source)


def ledger(config: Settings | None = None) -> Ledger:
    """The quality ledger of the configured index folder."""
    return ledger_for(config or settings())


@st.cache_data(ttl=STATS_TTL_S, show_spinner=False, max_entries=64)
def _cached_stats(_config: Settings, _user: User, key: str) -> KnowledgeStats:
    return stats(_config, _user)


def knowledge_stats(config: Settings | None = None) -> KnowledgeStats:
    """Figures about the part of the knowledge base the signed-in user may read (documents,
    chunks, last ingest), briefly cached per user and groups.

    Raises:
        KbchatError: the index cannot be read.
    """
    config = config or settings()
    reader = user()
    who = f"{reader.id}|{','.join(sorted(reader.groups))}|{reader.full_access}"
    return _cached_stats(
        config, reader, f"{config.model_dump_json(include={'paths', 'index'})}|{who}"
    )


@dataclass(frozen=True)
class ModelDescription:
    """What the UI says about the private model."""

    name: str
    """Display name of the model that answers."""
    configured: str
    """Display name of the model the settings ask for."""
    fallback: bool
    """True when a stand-in answers because the configured model is missing."""
    notice: str | None
    """What to tell users about the model (how to get the configured one), if anything."""
    server: str | None
    """Address of the company model server, when the private model runs there."""


def describe_model(config: Settings | None = None) -> ModelDescription:
    """The private model as the UI names it.

    Raises:
        KbchatError: the model or the index cannot be set up.
    """
    config = config or settings()
    built = answerer(config)
    server = config.private_server.private_base_url
    configured = (
        config.private_server.private_model
        if server
        else configured_model_name(config.local.resolved_model_path())
    )
    return ModelDescription(
        name=built.backend.model_name,
        configured=configured,
        fallback=built.fallback,
        notice=built.notice,
        server=shown_url(server) if server else None,
    )
