"""`kbchat judge`, `kbchat report` and `kbchat eval --judge` as a user runs them: new processes,
the judge and the cloud model both llama.cpp's OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kbchat.audit import AuditLog
from kbchat.ledger import Ledger
from kbchat.llm.models import packaged_model
from tests.fixtures.cli import kbchat
from tests.fixtures.comparisons import LEAVE, VPN, comparison, record
from tests.fixtures.documents import write_document
from tests.fixtures.llm_server import SERVER_MODEL, start_llama_server

pytestmark = pytest.mark.integration
API_KEY = "sk-test-kbchat-verdict-0123456789"
VERDICT_KEYS = [
    "judgements", "human", "judge", "wins", "ties", "losses", "win_or_tie", "ci_low",
    "ci_high", "verdict", "more_needed",
]  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with start_llama_server(packaged_model("smollm2"), chat_format="chatml", n_ctx=2048) as url:
        yield url


def _env(tmp: Path, url: str, corpus: Path | None = None) -> dict[str, str]:
    return {
        "KBCHAT_INDEX_DIR": str(tmp / "index"),
        "KBCHAT_CORPUS_DIR": str(corpus or tmp / "corpus"),
        "KBCHAT_MODELS_DIR": str(tmp / "models"),
        "KBCHAT_CLOUD_ALLOWED": "true",
        "KBCHAT_CLOUD_MODEL": SERVER_MODEL,
        "KBCHAT_CLOUD_MAX_RETRIES": "0",
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": url,
        "KBCHAT_JUDGE_RESPONSE_FORMAT": "json_object",
        "KBCHAT_JUDGE_MAX_TOKENS": "40",
        "KBCHAT_LOCAL_N_CTX": "2048",
        "KBCHAT_MAX_ANSWER_TOKENS": "24",
        "KBCHAT_TEMPERATURE": "0",
        "KBCHAT_LOCAL_PRELOAD": "false",
    }


def test_judge_then_report_as_json_and_html(tmp_path: Path, server: str) -> None:
    ledger = Ledger(tmp_path / "index" / "ledger.sqlite3")
    first, _second = record(
        ledger,
        comparison("How much leave?", [LEAVE], "27 days [1].", "Twenty-seven days [1]."),
        comparison("VPN?", [VPN], "QuillonConnect [1].", "Install the client [1]."),
    )
    ledger.record_judgement(first, "tie")
    for document in (LEAVE, VPN):  # the gate reads each document's label as it is now
        write_document(tmp_path / "corpus", *document)
    env = _env(tmp_path, server)

    judged = kbchat(["judge", "--limit", "1", "--json"], env)
    assert judged.returncode == 0, judged.stderr
    data = json.loads(judged.stdout)
    assert data["judge_model"] == SERVER_MODEL and data["judge_private"] is False
    assert data["judged"] + data["unparseable"] == 1  # --limit 1
    assert [i["comparison_id"] for i in data["judged_items"]] == [first]
    assert len(data["judged_items"][0]["orders"]) == 2
    rest = kbchat(["judge"], env)
    assert rest.returncode == 0, rest.stderr
    assert "#2 " in rest.stdout and f"{SERVER_MODEL} (cloud judge" in rest.stdout
    assert kbchat(["judge", "--since", "yesterday"], env).returncode == 2  # not a date

    html_path = tmp_path / "verdict.html"
    report = kbchat(["report", "--json", "--html", str(html_path)], env)
    assert report.returncode == 0, report.stderr
    shape = json.loads(report.stdout)
    assert list(shape) == ["margin", "overall", "topics", "agreement", "cost", "latency"]
    assert shape["margin"] == 0.05
    assert list(shape["overall"]) == VERDICT_KEYS
    assert [t["topic"] for t in shape["topics"]] == ["hr", "it"]
    assert shape["overall"]["human"] == 1 and shape["overall"]["judgements"] == 2
    assert shape["agreement"]["both_rated"] in (0, 1)
    assert shape["cost"]["judge_calls"] == 4
    page = html_path.read_text(encoding="utf-8")
    assert "Can the private model replace ChatGPT?" in page and "<svg" in page
    # self-contained: no script, nothing loaded from elsewhere (the SVG namespace is a name)
    assert "<script" not in page and not re.search(r"(src|href)=", page)
    text = kbchat(["report"], env)
    assert "All topics:" in text.stdout and "judgements" in text.stdout
    audit = AuditLog(tmp_path / "index" / "audit.sqlite3")
    assert len(audit.entries(event="judge_call")) == 4


def test_eval_both_models_with_the_judge(tmp_path: Path, server: str, small_corpus: Path) -> None:
    env = _env(tmp_path, server, small_corpus)
    ingested = kbchat(["ingest", "--json"], env)
    assert ingested.returncode == 0, ingested.stderr
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"question": "How many days of annual leave does everyone get?"}) + "\n"
        + json.dumps({"question": "What do level 3 engineers earn in salary?"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    assert kbchat(["eval", str(questions), "--judge"], env).returncode == 2  # needs both

    # one passage per question: in six documents the salary bands rank high for any HR
    # question, and a pair that saw them is (rightly) never sent to a cloud judge
    args = ["eval", str(questions), "--model", "both", "-k", "1", "--judge", "--json"]
    result = kbchat(args, env)

    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    verdict = run["summary"]["verdict"]
    assert verdict["judge_model"] == SERVER_MODEL and verdict["margin"] == 0.05
    assert list(verdict["overall"]) == VERDICT_KEYS
    leave, salary = run["rows"]
    assert leave["retrieved"] == ["hr/leave.md"] and salary["retrieved"] == ["hr/salaries.md"]
    if leave["answers"]["cloud"]["outcome"] in ("answered", "refused"):
        assert leave["judge"]["status"] in ("judged", "unparseable"), leave["judge"]
    # the salary passages are confidential: a cloud judge never sees that pair
    assert salary.get("judge") is None or salary["judge"]["status"] == "skipped"
    counted = verdict["judged"] + verdict["unparseable"] + verdict["skipped"] + verdict["failed"]
    assert counted == sum(1 for r in run["rows"] if "judge" in r)
    assert verdict["overall"]["judge"] == verdict["judged"]
