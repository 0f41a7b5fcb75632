"""Changing the embedding backend of an existing index, with the real embedders.

An index built with PyTorch, then ingested with ONNX int8: every chunk is re-embedded (never
reused), the run says so, a run killed on the way converges, and a search with an embedder
other than the one that built the index fails with a message that says how to fix it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ingest.chunking import ChunkingOptions
from ingest.manifest import Manifest
from ingest.sync import IngestJob, IngestOptions, IngestReport
from kbchat.errors import KbchatError
from kbchat.evaluation import load_eval_set
from kbchat.knowledge import embedder_for, index_for, manifest_for, run_ingest, search, stats
from kbchat.settings import Settings
from tests.conftest import EVAL_SET, make_settings
from tests.fixtures.cli import kbchat
from tests.fixtures.crash import Crash, crash_on_call
from tests.fixtures.snapshots import assert_same_index, snapshot
from vectorstore import (
    Embedder,
    EmbedderInfo,
    KnowledgeIndex,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
)

pytestmark = pytest.mark.integration

TORCH = EmbedderInfo("all-MiniLM-L6-v2 (packaged)", "torch")
INT8 = EmbedderInfo("all-MiniLM-L6-v2 (packaged, onnx-int8)", "onnx-int8")


def _note(chunks: int) -> str:
    return f"embedding backend changed from torch to onnx-int8: re-embedding all {chunks} chunks"


@pytest.fixture(scope="module")
def onnx_int8(tmp_path_factory: pytest.TempPathFactory) -> OnnxEmbedder:
    """The default embedder (ONNX int8, exported to the default cache folder once)."""
    embedder = embedder_for(make_settings(tmp_path_factory.mktemp("default")))
    assert isinstance(embedder, OnnxEmbedder) and embedder.backend == "onnx-int8"
    embedder.embed_query("warm up")
    return embedder


def test_switching_torch_to_onnx_reembeds_every_chunk_and_search_follows(
    tmp_path: Path, small_corpus: Path, onnx_int8: OnnxEmbedder
) -> None:
    torch_settings = make_settings(tmp_path, small_corpus, index={"embedding_backend": "torch"})
    onnx_settings = make_settings(tmp_path, small_corpus)  # the default: onnx-int8
    first = run_ingest(torch_settings)
    assert first.notes == [] and first.failed == []
    torch_index = index_for(torch_settings)
    ids = sorted(torch_index.chroma.ids())
    torch_vectors = torch_index.stored_embeddings(ids)
    assert search(torch_settings, "how many days of annual leave")[0].metadata["source"] == (
        "hr/leave.md"
    )

    # Searching with ONNX before the re-ingest: refused, saying what to do.
    with pytest.raises(KbchatError) as refused:
        search(onnx_settings, "how many days of annual leave")
    message = str(refused.value)
    assert f"built with the embedding model {TORCH.describe()}" in message
    assert f"{INT8.describe()} is configured" in message
    assert "`kbchat ingest --full`" in message
    assert "KBCHAT_EMBEDDING_BACKEND=torch" in message
    # Keyword search reads no vectors: it keeps working.
    assert search(onnx_settings, "annual leave", mode="keyword")
    assert f"the index was built with {TORCH.describe()}" in stats(onnx_settings).embedder

    second = run_ingest(onnx_settings)  # incremental, as `make run` does
    assert second.notes == [_note(len(ids))]
    assert second.failed == [] and second.chunks_total == len(ids)
    assert (second.files_added, second.chunks_added) == (6, len(ids))
    onnx_index = index_for(onnx_settings)
    assert onnx_index.built_with() == INT8
    onnx_vectors = onnx_index.stored_embeddings(ids)
    assert sorted(onnx_vectors) == ids
    for cid in ids:  # new vectors, of the same meaning
        assert not np.allclose(onnx_vectors[cid], torch_vectors[cid], atol=1e-3), cid
        assert float(onnx_vectors[cid] @ torch_vectors[cid]) > 0.95, cid
    hits = search(onnx_settings, "how many days of annual leave")
    assert hits[0].metadata["source"] == "hr/leave.md" and hits[0].dense_score is not None

    # The same index as ONNX builds from nothing: no PyTorch vector survived.
    clean = make_settings(tmp_path / "clean", small_corpus)
    run_ingest(clean)
    assert_same_index(
        snapshot(onnx_index, manifest_for(onnx_settings)),
        snapshot(index_for(clean), manifest_for(clean)),
    )

    # Now the PyTorch setting is the one that does not match.
    with pytest.raises(KbchatError, match="KBCHAT_EMBEDDING_BACKEND=onnx-int8"):
        search(torch_settings, "annual leave")
    assert stats(onnx_settings).embedder == INT8.describe()
    third = run_ingest(onnx_settings)
    assert third.notes == [] and third.files_unchanged == 6 and third.chunks_added == 0


def test_a_full_rebuild_after_a_switch_says_so_too(
    tmp_path: Path, small_corpus: Path, onnx_int8: OnnxEmbedder
) -> None:
    chunks = run_ingest(
        make_settings(tmp_path, small_corpus, index={"embedding_backend": "torch"})
    ).chunks_total
    report = run_ingest(make_settings(tmp_path, small_corpus), full=True)
    assert report.notes == [_note(chunks)] and report.chunks_total == chunks
    assert run_ingest(make_settings(tmp_path, small_corpus), full=True).notes == []


def test_kbchat_ingest_says_it_reembeds_and_search_says_how_to_fix(
    tmp_path: Path, small_corpus: Path, onnx_int8: OnnxEmbedder
) -> None:
    env = {"KBCHAT_CORPUS_DIR": str(small_corpus), "KBCHAT_INDEX_DIR": str(tmp_path / "idx")}
    torch_env = {**env, "KBCHAT_EMBEDDING_BACKEND": "torch"}
    built = kbchat(["ingest", "--json"], torch_env)
    assert built.returncode == 0, built.stderr
    report = json.loads(built.stdout)
    assert report["notes"] == [] and report["chunks_total"] > 0

    switched = kbchat(["ingest"], env)  # the default backend, incrementally: `make run`
    assert switched.returncode == 0, switched.stderr
    assert f"Note: {_note(report['chunks_total'])}." in switched.stdout

    refused = kbchat(["search", "annual leave"], torch_env)
    assert refused.returncode != 0
    assert "kbchat ingest --full" in refused.stderr
    assert "KBCHAT_EMBEDDING_BACKEND=onnx-int8" in refused.stderr
    assert "Traceback" not in refused.stderr
    found = kbchat(["search", "annual leave", "--json"], env)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["passages"][0]["source"] == "hr/leave.md"


def _job(root: Path, corpus: Path, embedder: Embedder) -> tuple[IngestJob, KnowledgeIndex]:
    """A new process's job over the index in ``root``."""
    index = KnowledgeIndex(root / "index", embedder)
    manifest = Manifest(root / "index" / "manifest.sqlite3")
    options = IngestOptions(corpus, max_file_bytes=200_000, chunking=ChunkingOptions(400, 40))
    return IngestJob(index, manifest, options), index


# Where the run switching to ONNX dies: before the manifest is cleared, between clearing it
# and emptying the index, between emptying Chroma and the keyword index, while writing files.
INJECTION_POINTS = [
    ("manifest", "clear", 1, True),
    ("chroma", "reset", 1, True),
    ("keyword", "clear", 1, True),
    ("chroma", "upsert", 2, False),
    ("manifest", "commit_file", 4, False),
]


@pytest.mark.parametrize(("target", "method", "nth", "noted_again"), INJECTION_POINTS)
def test_killed_switch_converges_to_a_clean_onnx_index(
    tmp_path: Path,
    small_corpus: Path,
    embedder: SentenceTransformerEmbedder,
    onnx_int8: OnnxEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    method: str,
    nth: int,
    noted_again: bool,
) -> None:
    job, _ = _job(tmp_path / "kb", small_corpus, embedder)
    chunks = job.run().chunks_total
    job, index = _job(tmp_path / "kb", small_corpus, onnx_int8)
    owner = {"manifest": job.manifest, "chroma": index.chroma, "keyword": index.keyword}[target]
    crash_on_call(monkeypatch, owner, method, nth)
    with pytest.raises(Crash):
        job.run()
    assert job.report.notes == [_note(chunks)]

    restarted, index = _job(tmp_path / "kb", small_corpus, onnx_int8)
    report: IngestReport = restarted.run()
    assert report.notes == ([_note(chunks)] if noted_again else [])
    assert report.failed == [] and report.chunks_total == chunks
    assert index.built_with() == INT8
    clean, clean_index = _job(tmp_path / "clean", small_corpus, onnx_int8)
    clean.run()
    assert_same_index(snapshot(index, restarted.manifest), snapshot(clean_index, clean.manifest))


OFF_TOPIC = (
    "Who won the 2018 football World Cup?",
    "What is the capital of Australia?",
    "How do I bake sourdough bread?",
    "Explain quantum entanglement in simple terms.",
    "Recommend a good science fiction novel.",
)


def test_relevance_gate_still_separates_answerable_from_off_topic(
    sample_settings: Settings,
) -> None:
    """KBCHAT_MIN_RELEVANCE (0.3) was tuned on PyTorch vectors; it holds for the default.

    Measured best-passage cosine, PyTorch / ONNX int8: answerable questions of the evaluation
    set at least 0.377 / 0.371, off-topic questions at most 0.196 / 0.196. (The evaluation
    set's unanswerable questions are about the company, 0.33 to 0.56 with either backend, so
    the gate lets them through to the model either way.)
    """
    assert sample_settings.index.embedding_backend == "onnx-int8"
    index = index_for(sample_settings)
    gate = sample_settings.retrieval.min_relevance

    def best(question: str) -> float:
        score = index.search(question, 1, mode="dense")[0].dense_score
        assert score is not None
        return score

    answerable = {q.question: best(q.question) for q in load_eval_set(EVAL_SET) if q.gold_files}
    assert min(answerable.values()) >= gate, sorted(answerable.items(), key=lambda kv: kv[1])[:3]
    off_topic = {q: best(q) for q in OFF_TOPIC}
    assert max(off_topic.values()) < gate, off_topic
