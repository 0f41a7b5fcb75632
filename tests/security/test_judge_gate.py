"""A cloud judge never receives a confidential comparison: checked at the recording proxy.

The stand-in for the cloud is llama.cpp's OpenAI-compatible server on 127.0.0.1 behind a
proxy that records every request body; the tests read what arrived there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kbchat.audit import AuditLog
from kbchat.errors import CloudNotAllowedError
from kbchat.judge_store import JudgeStore
from kbchat.judging import Judging, judge_in_background
from kbchat.ledger import Ledger
from kbchat.overrides import set_sensitivity_override
from kbchat.settings import Settings
from tests.conftest import make_settings
from tests.fixtures.comparisons import comparison, record
from tests.fixtures.documents import write_document
from tests.fixtures.llm_server import SERVER_MODEL
from tests.fixtures.recording_proxy import ProxyControl

pytestmark = [pytest.mark.security, pytest.mark.integration]
API_KEY = "sk-test-kbchat-judge-gate-0123456789abcdef"
MARKERS = {
    "label": "SALARYBAND-MARKER-7781",
    "path_rule": "PATHRULE-MARKER-3310",
    "relabelled": "RELABEL-MARKER-9034",
    "unknown_label": "UNKNOWNLABEL-MARKER-4410",
    "history": "HISTORY-MARKER-5521",
}
EMAIL = "jane.doe@quillon.example"


def _settings(tmp: Path, url: str, *, allowed: bool = True, **judge: object) -> Settings:
    settings = make_settings(
        tmp,
        cloud={
            "cloud_allowed": allowed,
            "openai_api_key": API_KEY,
            "openai_base_url": url,
            "cloud_model": SERVER_MODEL,
            "cloud_max_retries": 0,
        },
    )
    settings.judge = settings.judge.model_copy(
        update={"judge_response_format": "json_object", "judge_max_tokens": 40, **judge}
    )
    return settings


# The documents behind the comparisons, with the labels they state now.
DOCUMENTS = {
    "hr/bands.md": "confidential",
    "hr/private/heron.md": "internal",
    "finance/plan.md": "internal",
    "ops/odd.md": "secret",
    "it/vpn.md": "public",
    "it/team.md": "public",
}


def _record_all(ledger: Ledger) -> None:
    m = MARKERS
    record(
        ledger,
        comparison("What is the L4 band?", [("hr/bands.md", "confidential",
                   f"L4 earns 52,000 to 61,000 ({m['label']}).")], "52k [1].", "n/a"),
        comparison("Who is at risk?", [("hr/private/heron.md", "internal",
                   f"Twelve roles are at risk ({m['path_rule']}).")], "12 [1].", "n/a"),
        comparison("What is the plan?", [("finance/plan.md", "internal",
                   f"We sell the Leeds site ({m['relabelled']}).")], "Sell [1].", "n/a"),
        comparison("Odd label?", [("ops/odd.md", "secret",
                   f"Odd ({m['unknown_label']}).")], "Odd [1].", "n/a"),
        comparison("And the next step?", [("it/vpn.md", "public", "Install the VPN client.")],
                   f"After the move ({m['history']}), install it [1].", "Install it [1].",
                   history_confidential=True),
        comparison("Who runs IT?", [("it/team.md", "public",
                   f"Ask Jane at {EMAIL} or on +44 20 7946 0958.")],
                   f"Write to {EMAIL} [1].", "Ask Jane [1]."),
    )  # fmt: skip


def test_a_cloud_judge_receives_no_confidential_comparison(
    tmp_path: Path, cloud_stand_in: tuple[str, ProxyControl], control: ProxyControl
) -> None:
    url, _ = cloud_stand_in
    settings = _settings(tmp_path, url)
    for source, label in DOCUMENTS.items():
        write_document(settings.paths.corpus_dir, source, label)
    ledger = Ledger(tmp_path / "index" / "ledger.sqlite3")
    audit = AuditLog(tmp_path / "index" / "audit.sqlite3")
    _record_all(ledger)
    # an admin relabels a document after the comparison: the label as it is now counts
    set_sensitivity_override(settings, "finance/plan.md", "confidential")

    run = Judging(settings, ledger=ledger, audit=audit).run()

    received = control.bodies()
    for marker in MARKERS.values():
        assert marker not in received
    assert EMAIL not in received and "7946 0958" not in received  # redacted
    assert "[EMAIL" in received or "REDACTED" in received.upper()
    chats = [r for r in control.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 2  # only the public comparison, in both orders
    statuses = [item.status for item in run.items]
    assert statuses.count("skipped") == 5
    assert all("private judge" in i.reason for i in run.items if i.status == "skipped")
    refused = audit.entries(event="gate_refused")
    assert len(refused) == 5 and all(r.outcome.startswith("refused:") for r in refused)
    assert len(audit.entries(event="judge_call")) == 2
    # skipped comparisons are not stored: a private judge may take them later
    assert len(JudgeStore(ledger).verdicts()) <= 1


def test_automatic_judging_after_a_compare_obeys_the_gate(
    tmp_path: Path, cloud_stand_in: tuple[str, ProxyControl], control: ProxyControl
) -> None:
    url, _ = cloud_stand_in
    settings = _settings(tmp_path, url, judge_auto=True)
    ledger = Ledger(tmp_path / "index" / "ledger.sqlite3")
    (cid,) = record(ledger, comparison("What is the L4 band?", [("hr/bands.md", "confidential",
                    f"L4 earns 52,000 ({MARKERS['label']}).")], "52k [1].", "n/a"))  # fmt: skip
    from kbchat import ledger as ledger_module

    # the background judge uses the configured ledger: the one in this test's index folder
    assert ledger_module.ledger_for(settings).path == ledger.path
    thread = judge_in_background(settings, cid)
    assert thread is not None
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert MARKERS["label"] not in control.bodies()
    assert not [r for r in control.requests if r.path.endswith("/chat/completions")]


def test_nothing_reaches_a_cloud_judge_when_the_cloud_is_off(
    tmp_path: Path, cloud_stand_in: tuple[str, ProxyControl], control: ProxyControl
) -> None:
    url, _ = cloud_stand_in
    settings = _settings(tmp_path, url, allowed=False)
    ledger = Ledger(tmp_path / "index" / "ledger.sqlite3")
    audit = AuditLog(tmp_path / "index" / "audit.sqlite3")
    _record_all(ledger)
    with pytest.raises(CloudNotAllowedError, match="KBCHAT_CLOUD_ALLOWED"):
        Judging(settings, ledger=ledger, audit=audit).run()
    assert control.requests == []
    assert audit.entries(event="gate_refused")[0].outcome.startswith("refused:")


def test_a_private_judge_may_see_confidential_comparisons(
    tmp_path: Path, cloud_stand_in: tuple[str, ProxyControl], control: ProxyControl
) -> None:
    """The same server configured as a judge inside the company (KBCHAT_JUDGE_PRIVATE)."""
    url, _ = cloud_stand_in
    settings = _settings(tmp_path, url, allowed=False, judge_private=True, judge_base_url=url)
    ledger = Ledger(tmp_path / "index" / "ledger.sqlite3")
    audit = AuditLog(tmp_path / "index" / "audit.sqlite3")
    record(ledger, comparison("What is the L4 band?", [("hr/bands.md", "confidential",
           f"L4 earns 52,000 ({MARKERS['label']}).")], "52k [1].", "n/a"))  # fmt: skip

    (item,) = Judging(settings, ledger=ledger, audit=audit).run().items

    assert item.status in ("judged", "unparseable")
    assert MARKERS["label"] in control.bodies()
    calls = audit.entries(event="judge_call")
    assert len(calls) == 2 and all("private judge" in (c.detail or "") for c in calls)
    assert all(c.cost_usd is None for c in calls)
