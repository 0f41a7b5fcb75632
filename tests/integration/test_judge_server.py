"""The judge against a real OpenAI-compatible server on 127.0.0.1 (llama.cpp, packaged model).

A recording proxy in front of the server keeps every request, so the tests check what the
judge was actually sent: both orders, the passages, the JSON constraint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbchat.audit import AuditLog
from kbchat.judge_store import JudgeStore
from kbchat.judging import Judging
from kbchat.ledger import VERDICTS, Ledger
from kbchat.settings import Settings
from kbchat.verdict.figures import verdict_report
from tests.conftest import make_settings
from tests.fixtures.comparisons import LEAVE, VPN, comparison, record
from tests.fixtures.documents import write_document
from tests.fixtures.llm_server import SERVER_MODEL
from tests.fixtures.recording_proxy import ProxyControl

pytestmark = pytest.mark.integration
API_KEY = "sk-test-kbchat-judge-0123456789abcdef"


def judge_settings(tmp: Path, base_url: str, **judge: object) -> Settings:
    settings = make_settings(
        tmp,
        cloud={
            "cloud_allowed": True,
            "openai_api_key": API_KEY,
            "openai_base_url": base_url,
            "cloud_model": SERVER_MODEL,
            "cloud_max_retries": 0,
        },
    )
    settings.judge = settings.judge.model_copy(
        update={"judge_response_format": "json_object", "judge_max_tokens": 60, **judge}
    )
    for document in (LEAVE, VPN):
        write_document(settings.paths.corpus_dir, *document)
    return settings


def _chat_requests(control: ProxyControl) -> list[dict]:  # type: ignore[type-arg]
    return [r.json() for r in control.requests if r.path.endswith("/chat/completions")]


def test_each_comparison_is_judged_in_both_orders_and_stored_apart(
    tmp_path: Path, cloud_stand_in: tuple[str, ProxyControl], control: ProxyControl
) -> None:
    url, _ = cloud_stand_in
    settings = judge_settings(tmp_path, url)
    ledger = Ledger(tmp_path / "index" / "ledger.sqlite3")
    audit = AuditLog(tmp_path / "index" / "audit.sqlite3")
    private = "You get 27 days of annual leave plus bank holidays [1]."
    cloud = "Sorry, I do not know."
    (cid,) = record(ledger, comparison("How much annual leave do I get?", [LEAVE], private, cloud))
    ledger.record_judgement(cid, "private")

    run = Judging(settings, ledger=ledger, audit=audit).run()

    sent = _chat_requests(control)
    assert len(sent) == 2
    first, second = (m["messages"][1]["content"] for m in sent)
    # order 1 shows the private answer as A, order 2 as B (swapped)
    assert first.index(private) < first.index(cloud)
    assert second.index(cloud) < second.index(private)
    assert LEAVE[2] in first and LEAVE[2] in second  # the passages both models answered from
    assert all(m["response_format"]["type"] == "json_object" for m in sent)
    assert all(m["model"] == SERVER_MODEL and m["temperature"] == 0.0 for m in sent)

    (item,) = run.items
    assert item.status == "judged", item.reason  # the grammar holds the tiny model to the schema
    orders = item.outcome.replies if item.outcome else []
    labels = [json.loads(r.text)["verdict"] for r in orders]
    mapped = [
        {"A": "private", "B": "cloud"}.get(labels[0], labels[0]),
        {"A": "cloud", "B": "private"}.get(labels[1], labels[1]),
    ]
    assert item.verdict == (mapped[0] if mapped[0] == mapped[1] else "tie")
    assert item.verdict in VERDICTS
    (stored,) = JudgeStore(ledger).verdicts()
    assert stored["judge_model"] == SERVER_MODEL and stored["verdict"] == item.verdict
    assert stored["status"] == "ok" and len(json.loads(stored["replies"])) == 2
    # the human verdict is untouched, and kept apart
    assert [j["verdict"] for j in ledger.judgements()] == ["private"]
    calls = audit.entries(event="judge_call")
    assert len(calls) == 2 and all(c.outcome == "ok" and c.model == SERVER_MODEL for c in calls)
    assert all(c.tokens_in and c.cost_usd is not None for c in calls)
    # judged once: a second run has nothing left to judge
    assert Judging(settings, ledger=ledger, audit=audit).run().items == []
    report = verdict_report(settings, ledger, audit).to_json()
    assert report["overall"]["human"] == 1 and report["overall"]["judge"] == 1
    assert report["agreement"]["both_rated"] == 1
    assert report["cost"]["judge_calls"] == 2


def test_an_unparseable_reply_is_recorded_as_such_and_counted_nowhere(
    tmp_path: Path, cloud_stand_in: tuple[str, ProxyControl], control: ProxyControl
) -> None:
    url, _ = cloud_stand_in
    # no JSON constraint and room for two tokens: the reply cannot be a verdict
    settings = judge_settings(tmp_path, url, judge_response_format="off", judge_max_tokens=2)
    ledger = Ledger(tmp_path / "index" / "ledger.sqlite3")
    audit = AuditLog(tmp_path / "index" / "audit.sqlite3")
    record(ledger, comparison("How do I connect to the VPN?", [VPN], "Use QuillonConnect [1].",
                              "Install the client [1]."))  # fmt: skip

    (item,) = Judging(settings, ledger=ledger, audit=audit).run().items

    assert item.status == "unparseable" and item.verdict is None
    assert "unparseable reply" in item.reason
    sent = _chat_requests(control)
    assert len(sent) == 2 and all("response_format" not in m for m in sent)
    assert all(m["max_tokens"] == 2 for m in sent)
    (stored,) = JudgeStore(ledger).verdicts()
    assert stored["status"] == "unparseable" and stored["verdict"] is None
    report = verdict_report(settings, ledger, audit).to_json()
    assert report["overall"]["judge"] == 0 and report["overall"]["judgements"] == 0


def test_a_judge_that_is_down_fails_the_pair_and_nothing_is_stored(
    tmp_path: Path, cloud_stand_in: tuple[str, ProxyControl], control: ProxyControl
) -> None:
    url, _ = cloud_stand_in
    settings = judge_settings(tmp_path, url)
    ledger = Ledger(tmp_path / "index" / "ledger.sqlite3")
    audit = AuditLog(tmp_path / "index" / "audit.sqlite3")
    record(ledger, comparison("How much leave?", [LEAVE], "27 days [1].", "27 days [1]."))
    control.fail_status = 500

    (item,) = Judging(settings, ledger=ledger, audit=audit).run().items

    assert item.status == "failed" and "HTTP 500" in item.reason and "judge" in item.reason
    assert JudgeStore(ledger).verdicts() == []
    (call,) = audit.entries(event="judge_call")
    assert call.outcome.startswith("error:") and API_KEY not in (call.outcome or "")
