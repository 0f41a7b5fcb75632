"""Redaction and the cloud policy gate, on hand-made passages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kbchat.answering.prompt import Passage, build_messages
from kbchat.answering.service import Retrieval, Turn
from kbchat.audit import AuditLog
from kbchat.errors import CloudNotAllowedError, ConfigError
from kbchat.overrides import effective_settings, load_overrides, set_override
from kbchat.policy.gate import CloudGate
from kbchat.policy.redaction import Redactor
from kbchat.settings import CloudSettings
from tests.conftest import make_settings
from vectorstore.records import SearchHit

pytestmark = pytest.mark.unit

ALL = ["email", "phone", "id", "secret"]


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        ("Mail j.okafor@quillon.example now", "Mail [REDACTED EMAIL] now", {"email": 1}),
        ("Call +44 113 496 0123 or 0800 123 4567", "Call [REDACTED PHONE] or [REDACTED PHONE]",
         {"phone": 2}),
        ("Toronto 416 555 0100", "Toronto [REDACTED PHONE]", {"phone": 1}),
        ("Employee QS-004512", "Employee [REDACTED ID]", {"id": 1}),
        ("NI AB 12 34 56 C", "NI [REDACTED ID]", {"id": 1}),
        ("card 4111 1111 1111 1111", "card [REDACTED ID]", {"id": 1}),
        ("IBAN GB29 NWBK 6016 1331 9268 19", "IBAN [REDACTED ID]", {"id": 1}),
        ("key sk-abcdefghijklmnop1234", "key [REDACTED SECRET]", {"secret": 1}),
        ("password = hunter2222", "password = [REDACTED SECRET]", {"secret": 1}),
        ("AWS AKIAABCDEFGHIJKLMNOP", "AWS [REDACTED SECRET]", {"secret": 1}),
    ],
)  # fmt: skip
def test_redaction_replaces_values(text: str, expected: str, kinds: dict[str, int]) -> None:
    result = Redactor(ALL).redact(text)
    assert result.text == expected
    assert dict(result.counts) == kinds


@pytest.mark.parametrize(
    "text",
    [
        "Annual leave is 27 days; carry over 5 days until 31 March 2026.",
        "Purchase orders above £5,000 need two approvals; 12,000 needs three.",
        "Version 4.3.1 was released on 2026-03-06. Call extension 4357.",
        "Rate limits: 600 requests/min on Team and 3,000 on Enterprise.",
    ],
)
def test_ordinary_policy_text_is_left_alone(text: str) -> None:
    assert Redactor(ALL).redact(text).text == text


def test_redactions_can_be_switched_off_or_extended() -> None:
    assert Redactor(["none"]).redact("a@b.example").text == "a@b.example"
    only_email = Redactor(["email"]).redact("a@b.example +44 113 496 0123")
    assert only_email.text == "[REDACTED EMAIL] +44 113 496 0123"
    custom = Redactor(["project"], {"project": r"Project [A-Z][a-z]+"})
    assert custom.redact("Project Heron starts").text == "[REDACTED PROJECT] starts"


def test_unknown_or_broken_redaction_settings_are_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown redactions"):
        CloudSettings(redact=["email", "shoe-size"], _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="valid regex"):
        CloudSettings(redact_patterns={"x": "("}, _env_file=None)  # type: ignore[call-arg]


def _passage(n: int, text: str, source: str, sensitivity: str = "internal") -> Passage:
    meta = {"source": source, "sensitivity": sensitivity, "section": "Contacts"}
    return Passage(n, SearchHit(f"id{n}", text, meta, 1.0, dense_score=0.7))


# The documents of the passages below: the gate reads their current labels from the folder.
SOURCES = ("hr/private/salary_bands_2026.csv", "it/lost.txt", "hr/private/new.md", "it/a.md")


def _gate(tmp_path: Path, **cloud: object) -> CloudGate:
    settings = make_settings(
        tmp_path, cloud={"cloud_allowed": True, "openai_api_key": "sk-test-1234567890abcd", **cloud}
    )
    for source in SOURCES:
        path = settings.paths.corpus_dir / source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("Text.\n", encoding="utf-8")
    return CloudGate(settings)


def test_gate_withholds_confidential_and_redacts_the_rest(tmp_path: Path) -> None:
    retrieval = Retrieval(
        "Ask j.okafor@quillon.example about bands?",
        [
            _passage(1, "L4 Leeds: 62,000 to 83,000.", "hr/private/salary_bands_2026.csv",
                     "confidential"),
            _passage(2, "Email the service desk at servicedesk@quillon.example.", "it/lost.txt"),
            _passage(3, "Moved to a private folder later.", "hr/private/new.md", "internal"),
        ],
        True,
        0.0,
    )  # fmt: skip
    gate = _gate(tmp_path)
    # The taint passes on: the clean turn before the confidential one goes, nothing after it.
    history = [Turn("q0", "a0"), Turn("q1", "a1", used_confidential=True), Turn("q2", "a2")]
    decision = gate.review(retrieval, history)
    assert decision.allowed
    assert [w.passage.n for w in decision.withheld] == [1, 3]  # label, and the current path rule
    assert decision.retrieval is not None
    assert [p.n for p in decision.retrieval.passages] == [2]
    assert "[REDACTED EMAIL]" in decision.retrieval.passages[0].hit.text
    assert decision.retrieval.question == "Ask [REDACTED EMAIL] about bands?"
    assert [t.question for t in decision.history] == ["q0"]
    assert decision.history_withheld == 2
    assert decision.redactions == {"email": 2}
    assert decision.withheld[0].to_dict() == {
        "chunk_id": "id1", "source": "hr/private/salary_bands_2026.csv", "reason": "confidential",
    }  # fmt: skip
    messages = build_messages(decision.retrieval.question, decision.retrieval.passages)
    gate.check_prompt(messages, decision)  # passes


def test_gate_refuses_when_everything_is_confidential_or_cloud_is_off(tmp_path: Path) -> None:
    secret_only = Retrieval(
        "bands?", [_passage(1, "62,000", "hr/private/x.csv", "confidential")], True, 0.0
    )
    decision = _gate(tmp_path).review(secret_only)
    assert not decision.allowed and "confidential" in (decision.reason or "")
    off = _gate(tmp_path, cloud_allowed=False).review(secret_only)
    assert not off.allowed and "switched off" in (off.reason or "")
    keyless = _gate(tmp_path, openai_api_key=None).review(secret_only)
    assert not keyless.allowed and "OPENAI_API_KEY is not set" in (keyless.reason or "")


def test_last_check_stops_a_prompt_with_withheld_or_unredacted_text(tmp_path: Path) -> None:
    gate = _gate(tmp_path)
    retrieval = Retrieval(
        "q", [_passage(1, "Secret plan text here.", "hr/private/a.md", "confidential"),
              _passage(2, "Public text.", "it/a.md")], True, 0.0,
    )  # fmt: skip
    decision = gate.review(retrieval)
    leaked = build_messages("q", [retrieval.passages[0]])
    with pytest.raises(CloudNotAllowedError, match="confidential passage"):
        gate.check_prompt(leaked, decision)
    unredacted = build_messages("mail x.y@quillon.example", [])
    with pytest.raises(CloudNotAllowedError, match="email"):
        gate.check_prompt(unredacted, decision)


def test_admin_overrides_are_persisted_applied_and_audited(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert effective_settings(settings).cloud.cloud_allowed is False
    set_override(settings, "cloud_allowed", True, user="admin")
    set_override(settings, "confidential_paths", ["hr/private/**", " legal/** ", ""])
    effective = effective_settings(settings)
    assert effective.cloud.cloud_allowed is True
    assert effective.ingest.confidential_paths == ["hr/private/**", "legal/**"]
    assert settings.cloud.cloud_allowed is False, "the base settings are not changed"
    assert load_overrides(settings) == {
        "cloud_allowed": True, "confidential_paths": ["hr/private/**", "legal/**"],
    }  # fmt: skip
    rows = AuditLog(settings.paths.index_dir.resolve() / "audit.sqlite3").entries()
    assert [r.event for r in rows] == ["setting_changed", "setting_changed"]
    assert '"to": true' in (rows[1].detail or "") and rows[1].user == "admin"
    with pytest.raises(ConfigError):
        set_override(settings, "openai_api_key", "sk-x")
    with pytest.raises(ConfigError):
        set_override(settings, "cloud_allowed", "yes")
