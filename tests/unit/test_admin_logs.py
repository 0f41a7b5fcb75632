"""Audit log and ledger tables: filters and a CSV export that spreadsheets cannot run."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kbchat.admin.logs import audit_rows, ledger_rows, to_csv
from kbchat.audit import audit_for
from kbchat.ledger import ledger_for
from kbchat.settings import Settings
from tests.conftest import make_settings

pytestmark = pytest.mark.unit


def _read(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_neutralises_formulas_and_keeps_numbers() -> None:
    rows: list[dict[str, Any]] = [
        {"question": '=HYPERLINK("http://evil")', "rating": -1, "cost": 0.25, "n": None},
        {"question": "@SUM(A1)", "extra": ["a", "b"], "rating": 1},
        {"question": "+1 and -2", "detail": {"k": "v"}},
    ]
    parsed = _read(to_csv(rows))
    assert [r["question"] for r in parsed] == [
        '\'=HYPERLINK("http://evil")',
        "'@SUM(A1)",
        "'+1 and -2",
    ]
    assert parsed[0]["rating"] == "-1" and parsed[0]["cost"] == "0.25" and parsed[0]["n"] == ""
    assert parsed[1]["extra"] == '["a", "b"]' and parsed[2]["detail"] == '{"k": "v"}'
    assert to_csv([]).decode("utf-8-sig").strip() == ""


def _audit(settings: Settings) -> None:
    log = audit_for(settings)
    log.record("setting_changed", outcome="ok", user="admin", detail='{"setting": "cloud"}')
    log.record("document_changed", outcome="ok", detail='{"source": "hr/leave.md"}')
    log.record("cloud_call", outcome="ok", question="Parental leave?", passages_sent=["c1"])


def test_audit_rows_filter_by_event_text_and_day(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    _audit(settings)
    assert len(audit_rows(settings)) == 3
    [row] = audit_rows(settings, event="cloud_call")
    assert row["passages_sent"] == '["c1"]' and row["question"] == "Parental leave?"
    assert [r["event"] for r in audit_rows(settings, text="leave")] == [
        "cloud_call",
        "document_changed",
    ]
    today = date.fromisoformat(row["at"][:10])
    assert len(audit_rows(settings, since=today, until=today)) == 3
    assert audit_rows(settings, since=date(2999, 1, 1)) == []
    assert audit_rows(settings, until=date(2000, 1, 1)) == []
    exported = _read(to_csv(audit_rows(settings)))
    assert {r["event"] for r in exported} == {"setting_changed", "document_changed", "cloud_call"}


def test_ledger_rows_filter_by_model_text_and_day(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    ledger = ledger_for(settings)
    with ledger._transaction() as conn:
        for at, question, model in [
            ("2026-01-05T10:00:00+00:00", "How many days of leave?", "SmolLM2"),
            ("2026-02-05T10:00:00+00:00", "VPN client?", "gpt-4o-mini"),
            ("2026-03-05T10:00:00+00:00", "Printer badge?", "SmolLM2"),
        ]:
            conn.execute(
                "INSERT INTO answers(at, question, backend, model, fallback, answer, sources, "
                "cited) VALUES (?, ?, 'private', ?, 0, 'An answer.', ?, '[]')",
                (at, question, model, json.dumps(["it/vpn.txt"])),
            )
    assert [r["question"] for r in ledger_rows(settings, model="SmolLM2")] == [
        "Printer badge?",
        "How many days of leave?",
    ]
    assert [r["question"] for r in ledger_rows(settings, text="vpn client")] == ["VPN client?"]
    feb = ledger_rows(settings, since=date(2026, 2, 1), until=date(2026, 2, 28))
    assert [r["question"] for r in feb] == ["VPN client?"]
    assert len(ledger_rows(settings, limit=2)) == 2
    parsed = _read(to_csv(ledger_rows(settings)))
    assert parsed[0]["sources"] == '["it/vpn.txt"]' and "rating" in parsed[0]
