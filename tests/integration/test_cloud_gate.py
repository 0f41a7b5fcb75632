"""The cloud path against a real OpenAI-compatible server on 127.0.0.1, checked at the server.

The parrot (real HTTP, the real ``openai`` client, streaming and usage) stands in for the OpenAI
API; a recording proxy in front of it keeps every request body, so the tests check what
actually arrived. These tests are about the gate's plumbing, not about what a model says, so
the private model is the scripted one (``KBCHAT_LOCAL_ENGINE=scripted``) and every answer is
known: the assertions need no "if the tiny model said something".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kbchat.answerers import private_answerer
from kbchat.answering.service import Turn
from kbchat.audit import AuditLog
from kbchat.cloud_answer import start_cloud_answer
from kbchat.compare import CompareRun
from kbchat.knowledge import index_for, manifest_for
from kbchat.llm.scripted import grounded_reply
from kbchat.policy.redaction import Redactor
from kbchat.settings import RetrievalSettings, Settings
from tests.conftest import make_settings
from tests.fixtures.llm_server import SERVER_MODEL
from tests.fixtures.parrot_server import parrot_cloud
from tests.fixtures.ports import free_port
from tests.fixtures.recording_proxy import ProxyControl

pytestmark = pytest.mark.integration

API_KEY = "sk-test-kbchat-0123456789abcdef"
CONFIDENTIAL_QUESTIONS = [
    "What is the salary band for a level L4 employee in Leeds?",
    "How long does someone have to appeal against a disciplinary outcome?",
    "How many roles are at risk of redundancy under Project Heron?",
    "Who is going to run the merged Customer Experience department?",
]
PII_QUESTIONS = [
    "I think I left my work laptop on the train. How quickly do I have to report it?",
    "How do I report a dodgy email when I'm reading it on my phone?",
    "What's the phone number of the Toronto reception?",
    "What number do I call for the security on-call team in the middle of the night?",
]


@pytest.fixture(scope="module")
def cloud_stand_in() -> Iterator[tuple[str, ProxyControl]]:
    """The quick cloud stand-in (`parrot_cloud`) in place of llama.cpp's server."""
    with parrot_cloud() as stand_in:
        yield stand_in


def cloud_settings(sample: Settings, tmp: Path, base_url: str, **cloud: object) -> Settings:
    settings = make_settings(
        tmp,
        local={"local_engine": "scripted", "local_n_ctx": 2048},
        generation={"max_answer_tokens": 32, "temperature": 0.0},
        cloud={
            "cloud_allowed": True,
            "openai_api_key": API_KEY,
            "openai_base_url": base_url,
            "cloud_model": SERVER_MODEL,
            "cloud_max_retries": 0,
            "cloud_timeout_s": 30,
            **cloud,
        },
    )
    settings.paths = sample.paths
    return settings


def confidential_texts(settings: Settings) -> list[str]:
    entries = manifest_for(settings).entries().values()
    ids = [cid for e in entries if e.sensitivity == "confidential" for cid in e.chunk_ids]
    texts = [text for text, _meta in index_for(settings).keyword.get(ids).values()]
    assert len(texts) > 5
    return texts


def test_confidential_passages_never_reach_the_cloud(
    sample_settings: Settings,
    cloud_stand_in: tuple[str, ProxyControl],
    control: ProxyControl,
    tmp_path: Path,
) -> None:
    settings = cloud_settings(sample_settings, tmp_path, cloud_stand_in[0])
    # Twelve passages, not five: the top five of these questions all come from the one
    # confidential document, and the test needs other passages to go to the cloud beside them.
    settings.retrieval = RetrievalSettings(top_k=12, _env_file=None)  # type: ignore[call-arg]
    answerer, _ = private_answerer(settings)
    audit = AuditLog(tmp_path / "audit.sqlite3")
    withheld_total = 0
    for question in CONFIDENTIAL_QUESTIONS:
        retrieval = answerer.retrieve(question)
        assert any(p.hit.metadata["sensitivity"] == "confidential" for p in retrieval.passages), (
            f"{question!r} should retrieve confidential passages"
        )
        request = start_cloud_answer(settings, retrieval, audit=audit)
        withheld_total += len(request.decision.withheld)
        assert all(w.reason == "confidential" for w in request.decision.withheld)
        if request.stream is not None:
            answer = request.stream.consume()
            assert all(p.hit.metadata["sensitivity"] != "confidential" for p in answer.passages)
    assert withheld_total >= len(CONFIDENTIAL_QUESTIONS)
    bodies = control.bodies()
    assert control.requests, "some questions did reach the cloud with their other passages"
    for text in confidential_texts(settings):
        for line in (ln.strip() for ln in text.splitlines()):
            if len(line) >= 25:
                assert line[:60] not in bodies, f"confidential text reached the cloud: {line!r}"
    rows = audit.entries()
    assert {r.event for r in rows} <= {"cloud_call", "gate_refused"}
    assert sum(len(r.passages_withheld) for r in rows) == withheld_total


def test_redacted_values_never_reach_the_cloud(
    sample_settings: Settings,
    cloud_stand_in: tuple[str, ProxyControl],
    control: ProxyControl,
    tmp_path: Path,
) -> None:
    settings = cloud_settings(sample_settings, tmp_path, cloud_stand_in[0])
    answerer, _ = private_answerer(settings)
    audit = AuditLog(tmp_path / "audit.sqlite3")
    redactor = Redactor(["email", "phone", "id", "secret"])
    sensitive_values: set[str] = set()
    for question in [
        *PII_QUESTIONS,
        "My manager j.okafor@quillon.example asked: what is the per diem in Lisbon?",
    ]:
        retrieval = answerer.retrieve(question)
        for passage in retrieval.passages:
            sensitive_values.update(f.value for f in redactor.find(passage.hit.text))
        request = start_cloud_answer(settings, retrieval, audit=audit)
        assert request.stream is not None, request.refused
        request.stream.consume()
        assert sum(request.decision.redactions.values()) > 0
    emails_and_phones = {v for v in sensitive_values if "@" in v or re.search(r"\d{3}", v)}
    assert emails_and_phones, "the questions retrieve passages with e-mails and phone numbers"
    bodies = control.bodies()
    assert "[REDACTED EMAIL]" in bodies and "[REDACTED PHONE]" in bodies
    for value in [*emails_and_phones, "j.okafor@quillon.example"]:
        if redactor.findings(value):
            assert value not in bodies, f"{value!r} reached the cloud"
    calls = [r for r in audit.entries() if r.event == "cloud_call"]
    assert len(calls) == len(PII_QUESTIONS) + 1
    for row in calls:
        assert row.outcome == "ok" and row.passages_sent and row.redactions
        assert row.tokens_in and row.tokens_out is not None and row.cost_usd is not None
        assert row.model == SERVER_MODEL
    assert API_KEY not in (tmp_path / "audit.sqlite3").read_bytes().decode(errors="replace")


def test_history_from_confidential_answers_stays_private(
    sample_settings: Settings,
    cloud_stand_in: tuple[str, ProxyControl],
    control: ProxyControl,
    tmp_path: Path,
) -> None:
    settings = cloud_settings(sample_settings, tmp_path, cloud_stand_in[0])
    answerer, _ = private_answerer(settings)
    history = [  # the clean turn comes first: the taint passes on to every later turn
        Turn("How many days of annual leave?", "27 days [1]."),
        Turn(
            "What is the L4 band in Leeds?", "It is 62,000 to 83,000 [1].", used_confidential=True
        ),
    ]
    retrieval = answerer.retrieve("And how many can I carry over?", history)
    request = start_cloud_answer(settings, retrieval, history, audit=AuditLog(tmp_path / "a.db"))
    assert request.stream is not None
    request.stream.consume()
    sent = control.bodies()
    assert "62,000" not in sent and "L4 band" not in sent
    assert "27 days" in sent


def test_not_allowed_or_no_key_refuses_without_a_request(
    sample_settings: Settings,
    cloud_stand_in: tuple[str, ProxyControl],
    control: ProxyControl,
    tmp_path: Path,
) -> None:
    answerer, _ = private_answerer(sample_settings)
    retrieval = answerer.retrieve("How many days of annual leave do I get?")
    audit = AuditLog(tmp_path / "audit.sqlite3")
    off = cloud_settings(sample_settings, tmp_path, cloud_stand_in[0], cloud_allowed=False)
    refused = start_cloud_answer(off, retrieval, audit=audit)
    assert refused.stream is None and "switched off" in (refused.refused or "")
    keyless = cloud_settings(sample_settings, tmp_path, cloud_stand_in[0], openai_api_key=None)
    refused = start_cloud_answer(keyless, retrieval, audit=audit)
    assert refused.stream is None and "OPENAI_API_KEY is not set" in (refused.refused or "")
    assert control.requests == []
    assert [r.event for r in audit.entries()] == ["gate_refused", "gate_refused"]


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ({"fail_status": 401}, "rejected the API key"),
        ({"fail_status": 429}, "rate-limiting"),
        ({"fail_status": 503}, "try again later"),
        ({"delay_s": 3.0}, "did not answer within"),
        ({"network_down": True}, "could not reach"),
    ],
)
def test_cloud_failures_never_break_the_private_answer(
    sample_settings: Settings,
    cloud_stand_in: tuple[str, ProxyControl],
    control: ProxyControl,
    tmp_path: Path,
    failure: dict[str, object],
    expected: str,
) -> None:
    base_url = cloud_stand_in[0]
    if failure.pop("network_down", False):
        base_url = f"http://127.0.0.1:{free_port()}/v1"
    for key, value in failure.items():
        setattr(control, key, value)
    settings = cloud_settings(sample_settings, tmp_path, base_url, cloud_timeout_s=1.0)
    answerer, _ = private_answerer(settings)
    retrieval = answerer.retrieve("How many days of annual leave do I get?")
    audit = AuditLog(tmp_path / "audit.sqlite3")
    result = CompareRun(settings, retrieval, [], answerer, audit=audit).run()
    assert result.private is not None and result.private.text.strip()
    assert "private" not in result.errors
    message = result.errors.get("cloud", "")
    assert expected.lower() in message.lower(), message
    assert API_KEY not in message
    (row,) = audit.entries()
    assert row.event == "cloud_call" and row.outcome.startswith("error")
    assert API_KEY not in row.outcome


def test_compare_runs_both_on_the_same_passages(
    sample_settings: Settings,
    cloud_stand_in: tuple[str, ProxyControl],
    control: ProxyControl,
    tmp_path: Path,
) -> None:
    settings = cloud_settings(sample_settings, tmp_path, cloud_stand_in[0])
    answerer, _ = private_answerer(settings)
    retrieval = answerer.retrieve("How many days of paid holiday do I get each year?")
    run = CompareRun(settings, retrieval, [], answerer, audit=AuditLog(tmp_path / "a.db"))
    events = list(run.events())
    assert {e.side for e in events if e.kind == "done"} == {"private", "cloud"}
    assert not [e for e in events if e.kind in ("error", "refused")]
    result = run.result
    assert result.private and result.cloud
    assert [p.hit.chunk_id for p in result.private.passages] == [
        p.hit.chunk_id for p in result.cloud.passages
    ], "no confidential passage here: both saw the same passages"
    assert result.cloud.cost_usd is not None and result.cloud.cost_usd >= 0
    # The scripted model cites the first sentences of the first two passages it was shown
    # (cut at 32 tokens); the parrot repeats the first one whole: they agree, in part.
    (shown,) = answerer.backend.requests  # type: ignore[attr-defined]
    said = result.private.text.strip()
    assert said and grounded_reply(shown).startswith(said)
    assert said.split(" [")[0][:60] in result.cloud.text
    assert result.agreement is not None and 0 < result.agreement <= 1
    assert result.wall_s > 0
    sent = control.requests[-1].json()
    assert sent["model"] == SERVER_MODEL and sent["max_tokens"] == 32


def test_ask_cli_with_the_cloud(
    sample_settings: Settings, cloud_stand_in: tuple[str, ProxyControl], control: ProxyControl
) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "KBCHAT_INDEX_DIR": str(sample_settings.paths.index_dir),
        "KBCHAT_CORPUS_DIR": str(sample_settings.paths.corpus_dir),
        "KBCHAT_MODELS_DIR": str(sample_settings.local.models_dir),
        "KBCHAT_LOCAL_ENGINE": "scripted",
        "KBCHAT_LOCAL_N_CTX": "2048",
        "KBCHAT_MAX_ANSWER_TOKENS": "32",
        "KBCHAT_CLOUD_ALLOWED": "true",
        "KBCHAT_CLOUD_MODEL": SERVER_MODEL,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": cloud_stand_in[0],
    }
    question = "What is the salary band for a level L4 employee in Leeds?"
    done = subprocess.run(
        [sys.executable, "-m", "kbchat", "ask", question, "--model", "both", "--json"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [a["backend"] for a in result["answers"]] == ["private", "cloud"]
    assert "cost_usd" in result["answers"][1] and "cost_usd" not in result["answers"][0]
    assert result["withheld"] and all(w["reason"] == "confidential" for w in result["withheld"])
    assert isinstance(result["redactions"], dict)
    off = subprocess.run(
        [sys.executable, "-m", "kbchat", "ask", question, "--model", "cloud"],
        env={**env, "KBCHAT_CLOUD_ALLOWED": "false"}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert off.returncode != 0 and "switched off" in off.stderr
    audit = subprocess.run(
        [sys.executable, "-m", "kbchat", "audit", "--json", "--limit", "5"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    rows = json.loads(audit.stdout)
    assert rows[0]["event"] == "gate_refused" and "switched off" in rows[0]["outcome"]
    assert rows[1]["event"] in ("cloud_call", "gate_refused") and rows[1]["passages_withheld"]
    assert API_KEY not in audit.stdout
