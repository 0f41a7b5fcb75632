"""Shared fixtures: settings pointing at temporary folders, the packaged embedder, corpora."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kbchat.llm.models import packaged_model
from kbchat.settings import (
    CloudSettings,
    GenerationSettings,
    IndexSettings,
    IngestSettings,
    LocalModelSettings,
    PathSettings,
    PrivateServerSettings,
    RetrievalSettings,
    Settings,
    UiSettings,
)
from tests.fixtures.llm_server import start_llama_server
from tests.fixtures.recording_proxy import ProxyControl, recording_proxy
from vectorstore import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "docs_corpus"
EVAL_SET = ROOT / "eval" / "docs_corpus_questions.jsonl"

# Tests never read the developer's .env or environment for kbchat settings.
for _name in list(os.environ):
    if _name.startswith("KBCHAT_") or _name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        del os.environ[_name]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def make_settings(
    tmp: Path,
    corpus: Path | None = None,
    *,
    index: dict[str, object] | None = None,
    local: dict[str, object] | None = None,
    generation: dict[str, object] | None = None,
    private_server: dict[str, object] | None = None,
    cloud: dict[str, object] | None = None,
    **ingest: object,
) -> Settings:
    """Settings whose corpus and index live in a temporary folder, ignoring any `.env`."""
    no_env: dict[str, object] = {"_env_file": None}
    # A key in the wrong group would be ignored silently (extra="ignore"): refuse it here.
    misplaced = set(local or {}) - set(LocalModelSettings.model_fields)
    assert not misplaced, f"not in settings.local: {sorted(misplaced)}"
    return Settings(
        paths=PathSettings(corpus_dir=corpus or tmp / "corpus", index_dir=tmp / "index", **no_env),
        ingest=IngestSettings(**ingest, **no_env),
        index=IndexSettings(**(index or {}), **no_env),
        retrieval=RetrievalSettings(**no_env),
        local=LocalModelSettings(**{"models_dir": tmp / "models", **(local or {})}, **no_env),
        generation=GenerationSettings(**(generation or {}), **no_env),
        private_server=PrivateServerSettings(**(private_server or {}), **no_env),
        cloud=CloudSettings(**(cloud or {}), **no_env),
        ui=UiSettings(**no_env),
    )


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2, loaded once for the whole run."""
    model = SentenceTransformerEmbedder()
    model.embed_query("warm up")
    return model


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the sample corpus that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Six short documents in three formats and two folders (fast to ingest)."""
    root = tmp_path / "small"
    (root / "hr").mkdir(parents=True)
    (root / "it").mkdir()
    (root / "hr" / "leave.md").write_text(
        "---\ntitle: Leave policy\nsensitivity: internal\n---\n# Leave policy\n\n"
        "## Annual leave\nEveryone gets 27 days of annual leave plus bank holidays.\n\n"
        "## Carry over\nUp to 5 unused days carry over until 31 March.\n",
        encoding="utf-8",
    )
    (root / "hr" / "salaries.md").write_text(
        "---\ntitle: Salary bands\nsensitivity: confidential\n---\n# Salary bands\n\n"
        "Level 3 engineers earn between 52,000 and 61,000 pounds.\n",
        encoding="utf-8",
    )
    (root / "it" / "vpn.txt").write_text(
        "Connecting to the VPN\n\nInstall the QuillonConnect client from the software centre.\n"
        "Sign in with your work account and approve the MFA prompt.\n",
        encoding="utf-8",
    )
    (root / "it" / "printers.txt").write_text(
        "Printers\n\nSend print jobs to FollowMe and release them with your badge.\n",
        encoding="utf-8",
    )
    (root / "it" / "laptops.csv").write_text(
        "model,refresh years,owner\nThinkPad T14,3,IT\nMacBook Air,3,IT\n", encoding="utf-8"
    )
    (root / "welcome.md").write_text(
        "# Welcome\n\nYour buddy meets you at reception at 9:30 on your first day.\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A real `chroma run` server on 127.0.0.1, stopped at the end of the test."""
    from tests.fixtures.chroma_server import start_chroma_server

    with start_chroma_server(tmp_path / "chroma-server") as address:
        yield address


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of an index holding the whole sample corpus (ingested once per run).

    Tests must not change this index; copy the corpus (`corpus_copy`) to change things.
    """
    from kbchat.knowledge import run_ingest

    tmp = tmp_path_factory.mktemp("sample")
    # Greedy decoding (temperature 0): the packaged model answers the same way every run.
    settings = make_settings(
        tmp,
        CORPUS,
        local={"local_n_ctx": 2048},
        generation={"max_answer_tokens": 64, "temperature": 0.0},
    )
    report = run_ingest(settings)
    assert report.failed == [], report.failed
    return settings


@pytest.fixture(scope="module")
def cloud_stand_in() -> Iterator[tuple[str, ProxyControl]]:
    """The cloud stand-in, one per test module: llama.cpp's OpenAI-compatible server with the
    packaged SmolLM2 on 127.0.0.1, behind the recording proxy (which sees every request).

    Yields:
        The OpenAI base URL (the proxy's ``/v1``) and the proxy's control object.
    """
    with (
        start_llama_server(packaged_model("smollm2"), chat_format="chatml", n_ctx=2048) as url,
        recording_proxy(url.removesuffix("/v1")) as (proxy, control),
    ):
        yield f"{proxy}/v1", control


@pytest.fixture
def control(cloud_stand_in: tuple[str, ProxyControl]) -> Iterator[ProxyControl]:
    """The recording proxy's control, with no recorded request and no injected failure."""
    _url, ctl = cloud_stand_in
    ctl.reset()
    ctl.requests.clear()
    yield ctl
    ctl.reset()


@pytest.fixture(autouse=True)
def loopback_address() -> Iterator[None]:
    """AppTest runs have no ``--server.address``; serve them as ``make run`` does, on
    loopback. Without this, ``KBCHAT_AUTH_MODE=none`` would (rightly) refuse every page:
    Streamlit's default address is every interface."""
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    yield
    config.set_option("server.address", before)
