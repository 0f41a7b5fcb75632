"""`kbchat eval` end to end: the shipped evaluation set on the sample corpus, and both models.

Real components throughout: the session's ingested sample corpus, the real `kbchat` command,
and a real OpenAI-compatible server on 127.0.0.1 as the cloud model (the parrot). What is under
test is the run's structure, the gate and the sums, not what a model says, so the private model
is the scripted one (``KBCHAT_LOCAL_ENGINE=scripted``): each answer is known and takes no time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kbchat.audit import AuditLog
from kbchat.evaluation import load_eval_set
from kbchat.settings import Settings
from tests.conftest import EVAL_SET
from tests.fixtures.cli import kbchat
from tests.fixtures.llm_server import SERVER_MODEL
from tests.fixtures.parrot_server import parrot_server
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.integration

API_KEY = "sk-test-kbchat-eval-0123456789"
SUBSET = [
    "What is the salary band for a level L4 employee in Leeds?",  # confidential passages
    "How long does a VPN connection stay signed in before it asks me to log in again?",
    "Who is our pension provider, and how much does Quillon contribute?",  # unanswerable
]
ANSWER_FIELDS = {
    "backend", "model", "outcome", "answer", "answered_by_model", "refused", "phrases_matched",
    "phrases_missing", "key_phrases_ok", "citations", "cited_gold", "citation_precision",
    "groundedness", "ttft_s", "seconds", "tokens_in", "tokens_out", "cost_usd", "passages_used",
    "withheld", "error", "not_asked",
}  # fmt: skip
ROW_FIELDS = {
    "number", "question", "gold_files", "answer_contains", "unanswerable", "retrieved",
    "first_gold_rank", "retrieval_relevant", "retrieval_s", "answers",
}  # fmt: skip


def sample_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        "KBCHAT_INDEX_DIR": str(settings.paths.index_dir),
        "KBCHAT_CORPUS_DIR": str(settings.paths.corpus_dir),
        "KBCHAT_MODELS_DIR": str(settings.local.models_dir),
        "KBCHAT_LOCAL_N_CTX": "2048",
        "KBCHAT_MAX_ANSWER_TOKENS": "32",
        "KBCHAT_TEMPERATURE": "0",
        **extra,
    }


def cloud_env(settings: Settings, base_url: str, **extra: str) -> dict[str, str]:
    cloud = {
        "KBCHAT_CLOUD_ALLOWED": "true",
        "KBCHAT_CLOUD_MODEL": SERVER_MODEL,
        "KBCHAT_CLOUD_MAX_RETRIES": "0",
        "KBCHAT_CLOUD_TIMEOUT_S": "60",
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": base_url,
        "KBCHAT_LOCAL_ENGINE": "scripted",
    }
    return sample_env(settings, **{**cloud, **extra})


@pytest.fixture(scope="module")
def cloud_url() -> Iterator[str]:
    with parrot_server() as url:
        yield url


@pytest.fixture
def subset(tmp_path: Path) -> Path:
    lines = [
        line
        for line in EVAL_SET.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["question"] in SUBSET
    ]
    assert len(lines) == 3
    path = tmp_path / "subset.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_shipped_set_retrieval_only(sample_settings: Settings) -> None:
    done = kbchat(
        ["eval", str(EVAL_SET), "--retrieval-only", "--json"], sample_env(sample_settings)
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # stdout is pure JSON: progress and notes go to stderr
    summary, rows = result["summary"], result["rows"]
    questions = load_eval_set(EVAL_SET)
    assert len(rows) == summary["questions"] == len(questions)
    assert summary["models"] == [] and summary["per_model"] == {}
    retrieval = summary["retrieval"]
    assert retrieval["k"] == sample_settings.retrieval.top_k == 5
    assert retrieval["questions"] == sum(
        not q.unanswerable and bool(q.gold_files) for q in questions
    )
    assert retrieval["recall_at_k"] >= 0.9, [r["question"] for r in rows if not r["retrieved"]]
    assert retrieval["mrr"] > 0.5
    scored = [r for r in rows if r["gold_files"] and not r["unanswerable"]]
    assert retrieval["hits"] == sum(r["first_gold_rank"] is not None for r in scored)
    mrr = sum(1 / r["first_gold_rank"] for r in scored if r["first_gold_rank"]) / len(scored)
    assert retrieval["mrr"] == pytest.approx(mrr, abs=1e-4)
    for row in rows:
        assert set(row) == ROW_FIELDS and row["answers"] == {}
        assert 0 < len(row["retrieved"]) <= 5
        if row["first_gold_rank"] is not None:
            assert row["retrieved"][row["first_gold_rank"] - 1] in row["gold_files"]
    text = kbchat(
        ["eval", str(EVAL_SET), "--retrieval-only", "-k", "3"], sample_env(sample_settings)
    )
    assert text.returncode == 0, text.stderr
    assert "Recall@3" in text.stdout and "retrieval only" in text.stdout


def per_model_adds_up(summary: dict[str, Any], rows: list[dict[str, Any]], label: str) -> None:
    """The summary of one model is what its per-question rows add up to."""
    model = summary["per_model"][label]
    answers = [(row, row["answers"][label]) for row in rows]
    scored = [(r, a) for r, a in answers if a["outcome"] in ("answered", "refused")]
    assert model["questions"] == len(rows)
    assert model["failed"] == sum(a["outcome"] == "failed" for _, a in answers)
    assert model["not_asked"] == sum(a["outcome"] == "not_asked" for _, a in answers)
    assert model["answers_written"] == sum(a["answered_by_model"] for _, a in scored)
    assert model["tokens_in"] == sum(a["tokens_in"] for _, a in answers)
    assert model["tokens_out"] == sum(a["tokens_out"] for _, a in answers)
    assert model["cost_usd"] == pytest.approx(sum(a["cost_usd"] for _, a in answers), abs=1e-6)
    with_phrases = [a for r, a in scored if r["answer_contains"] and not r["unanswerable"]]
    assert model["key_phrases"]["of"] == len(with_phrases)
    assert model["key_phrases"]["n"] == sum(a["key_phrases_ok"] for a in with_phrases)
    unanswerable = [a for r, a in scored if r["unanswerable"]]
    assert model["refusal_accuracy"]["of"] == len(unanswerable)
    assert model["refusal_accuracy"]["n"] == sum(a["refused"] for a in unanswerable)
    answerable = [a for r, a in scored if not r["unanswerable"]]
    assert model["false_refusals"]["n"] == sum(a["refused"] for a in answerable)
    cited = [a for a in answerable if a["cited_gold"] is not None and a["answered_by_model"]]
    assert model["citation_precision"]["of"] == sum(len(a["citations"]) for a in cited)
    assert model["citation_precision"]["n"] == sum(a["cited_gold"] for a in cited)
    grounded = [a["groundedness"] for _, a in scored if a["groundedness"] is not None]
    assert model["groundedness"]["of"] == len(grounded)
    if grounded:
        mean = sum(grounded) / len(grounded)
        assert model["groundedness"]["value"] == pytest.approx(mean, abs=1e-3)
    ttfts = [a["ttft_s"] for _, a in scored if a["ttft_s"] is not None]
    if ttfts:
        assert min(ttfts) - 1e-3 <= model["ttft_s"]["p50"] <= model["ttft_s"]["p95"]
        assert model["ttft_s"]["p95"] <= max(ttfts) + 1e-3


def test_both_models_on_a_subset_with_reports(
    sample_settings: Settings, cloud_url: str, subset: Path, tmp_path: Path
) -> None:
    md, page = tmp_path / "report.md", tmp_path / "report.html"
    env = cloud_env(sample_settings, cloud_url)
    args = ["eval", str(subset), "--model", "both", "-k", "3", "--json"]
    done = kbchat([*args, "--report", str(md), "--report", str(page)], env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    summary, rows = result["summary"], result["rows"]
    assert summary["models"] == ["private", "cloud"] and len(rows) == 3
    assert summary["per_model"]["private"]["model"] == "scripted"
    assert summary["per_model"]["cloud"]["model"] == SERVER_MODEL
    assert "No model is answering" in summary["notice"]  # the stand-in says what it is
    assert summary["retrieval"]["k"] == 3 and summary["retrieval"]["questions"] == 2
    for row in rows:
        assert set(row) == ROW_FIELDS and 0 < len(row["retrieved"]) <= 3
        assert set(row["answers"]) == {"private", "cloud"}
        for answer in row["answers"].values():
            assert set(answer) == ANSWER_FIELDS
            assert answer["outcome"] != "failed", answer["error"]
            # Both answered from this row's retrieval: passage numbers index its passages.
            assert set(answer["passages_used"]) <= set(range(1, len(row["retrieved"]) + 1))
        private = row["answers"]["private"]
        assert private["cost_usd"] == 0 and private["withheld"] == 0
        if private["answered_by_model"]:
            assert private["seconds"] is not None and private["tokens_in"] > 0
    # The confidential question: the gate withheld passages from the cloud (never the private).
    confidential = rows[0]["answers"]["cloud"]
    assert rows[0]["question"] == SUBSET[0] and confidential["withheld"] > 0
    for label in ("private", "cloud"):
        per_model_adds_up(summary, rows, label)
    # Every cloud call went through the gate and into the audit log, tagged with the run.
    audit = AuditLog(sample_settings.paths.index_dir / "audit.sqlite3").entries(1000)
    mine = [e for e in audit if e.session == f"kbchat eval {subset.name}"]
    called = [r for r in rows if r["answers"]["cloud"]["answered_by_model"]]
    calls = [e for e in mine if e.event == "cloud_call"]
    assert len(calls) == len(called) and all(e.outcome == "ok" for e in calls)
    assert sum(e.tokens_in or 0 for e in calls) == summary["per_model"]["cloud"]["tokens_in"]
    refused = [e for e in mine if e.event == "gate_refused"]
    assert len(refused) == summary["per_model"]["cloud"]["not_asked"]
    assert API_KEY not in done.stdout + done.stderr
    # The reports: both models side by side, every question, the worst ones.
    markdown = md.read_text(encoding="utf-8")
    assert "|  | Private model | Cloud model |" in markdown
    assert "## Worst questions" in markdown and "## Every question" in markdown
    for question in SUBSET:
        assert question in markdown
    html_page = page.read_text(encoding="utf-8")
    assert html_page.startswith("<!DOCTYPE html>") and "<script" not in html_page
    assert "<th>Private model</th><th>Cloud model</th>" in html_page
    assert "Who is our pension provider, and how much does Quillon contribute?" in html_page
    assert f"Report written to {md}" in done.stderr


def test_a_cloud_failure_is_recorded_and_the_run_goes_on(
    sample_settings: Settings, subset: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    done = kbchat(
        ["eval", str(subset), "--model", "cloud", "-k", "3", "--json"],
        cloud_env(sample_settings, down, KBCHAT_CLOUD_TIMEOUT_S="5"),
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    rows, cloud = result["rows"], result["summary"]["per_model"]["cloud"]
    assert len(rows) == 3
    answers = [r["answers"]["cloud"] for r in rows]
    failed = [a for a in answers if a["outcome"] == "failed"]
    assert failed and cloud["failed"] == len(failed)
    assert all("could not reach" in a["error"].lower() for a in failed)
    # Nothing else got an answer: the gate stopped it, or retrieval found nothing relevant.
    others = [a for a in answers if a["outcome"] != "failed"]
    assert all(a["outcome"] == "not_asked" or not a["answered_by_model"] for a in others)
    assert cloud["answers_written"] == 0
    assert "Failed answers (recorded on their rows): cloud" in done.stderr


def test_refused_before_any_work(sample_settings: Settings, subset: Path, tmp_path: Path) -> None:
    env = sample_env(sample_settings)
    off = kbchat(["eval", str(subset), "--model", "both"], env)
    assert off.returncode == 1 and "switched off" in off.stderr and off.stdout == ""
    keyless = kbchat(
        ["eval", str(subset), "--model", "cloud"], {**env, "KBCHAT_CLOUD_ALLOWED": "true"}
    )
    assert keyless.returncode == 1 and "OPENAI_API_KEY is not set" in keyless.stderr
    bad = kbchat(["eval", str(subset), "--report", str(tmp_path / "r.pdf")], env)
    assert bad.returncode == 1 and "name it .md" in bad.stderr
    assert not (tmp_path / "r.pdf").exists()
    empty = kbchat(
        ["eval", str(subset), "--retrieval-only"],
        {**env, "KBCHAT_INDEX_DIR": str(tmp_path / "empty-index")},
    )
    assert empty.returncode == 1 and "The index is empty" in empty.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "ok"}\n{"question": "q", "gold_file": ["a.md"]}\n')
    bad_line = kbchat(["eval", str(broken), "--retrieval-only"], env)
    assert bad_line.returncode == 1 and "line 2" in bad_line.stderr


def test_ctrl_c_keeps_the_questions_done(sample_settings: Settings) -> None:
    from kbchat.evaluation.report import render_text
    from kbchat.evaluation.runner import EvalRow, EvalRunner

    questions = load_eval_set(EVAL_SET)

    def stop_after_two(row: EvalRow) -> None:
        if row.number == 2:
            raise KeyboardInterrupt

    run = EvalRunner(sample_settings, models=()).run(questions, on_row=stop_after_two)
    assert run.interrupted and len(run.rows) == 2
    summary = run.summary()
    assert summary["interrupted"] and summary["planned"] == len(questions)
    assert summary["questions"] == 2
    assert summary["retrieval"]["questions"] == 2
    assert f"interrupted after 2 of {len(questions)} questions" in render_text(run)
