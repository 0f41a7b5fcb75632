"""The one answering service from the command line: ``--as USER --groups``, user ids on every
record, the cloud fall-back audited the same way in every front end."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from kbchat.answering.service import Retrieval
from kbchat.audit import audit_for
from kbchat.compare import Comparison
from kbchat.knowledge import run_ingest
from kbchat.ledger import Ledger
from tests.conftest import make_settings
from tests.fixtures.cli import kbchat
from tests.fixtures.documents import write_document

pytestmark = pytest.mark.integration

HR_SOURCE = "hr/salaries.md"
HR_TEXT = "The Zorblax salary band for senior engineers tops out at 142,000 crowns a year."


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("service")
    corpus = tmp / "corpus"
    write_document(corpus, HR_SOURCE, "internal", HR_TEXT, access=["hr"])
    for i in range(6):
        write_document(
            corpus, f"it/topic{i}.md", "internal", f"Topic {i}: printers are on floor {i + 1}."
        )
    run_ingest(make_settings(tmp, corpus))
    return {
        "KBCHAT_CORPUS_DIR": str(corpus),
        "KBCHAT_INDEX_DIR": str(tmp / "index"),
        "KBCHAT_MODELS_DIR": str(tmp / "models"),
        "KBCHAT_MAX_ANSWER_TOKENS": "24",
        "KBCHAT_CLOUD_ALLOWED": "false",
    }


def _sources(payload: dict[str, object]) -> list[str]:
    return [p["source"] for p in payload["passages"]]  # type: ignore[index, union-attr]


def test_search_as_a_user_reads_only_their_groups(indexed: dict[str, str]) -> None:
    query = "Zorblax salary band crowns"
    alice = kbchat(["search", query, "--json", "--as", "alice", "--groups", "hr"], indexed)
    bob = kbchat(["search", query, "--json", "--as", "bob", "--groups", "Sales"], indexed)
    local = kbchat(["search", query, "--json"], indexed)
    assert alice.returncode == bob.returncode == local.returncode == 0, bob.stderr
    assert _sources(json.loads(alice.stdout))[0] == HR_SOURCE
    assert _sources(json.loads(local.stdout))[0] == HR_SOURCE  # the local user reads all
    bob_sources = _sources(json.loads(bob.stdout))
    assert bob_sources and HR_SOURCE not in bob_sources
    assert "142,000" not in bob.stdout and "hr/" not in bob.stdout


def test_groups_without_as_is_refused(indexed: dict[str, str]) -> None:
    done = kbchat(["search", "printers", "--groups", "hr"], indexed)
    assert done.returncode == 2
    assert "--groups needs --as USER" in done.stderr


def test_ask_as_bob_is_answered_from_his_documents_and_recorded_in_his_name(
    indexed: dict[str, str],
) -> None:
    done = kbchat(
        ["ask", HR_TEXT, "--json", "--model", "both", "--as", "bob", "--groups", "sales"],
        indexed,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert HR_SOURCE not in _sources(payload)
    assert "hr/" not in done.stdout
    assert all("142,000" not in a["text"] for a in payload["answers"])
    # The cloud is switched off: the private model answers alone, and the refusal is audited
    # in bob's name, as on the Compare page.
    refused = audit_for(make_settings(Path(indexed["KBCHAT_INDEX_DIR"]).parent)).entries(
        event="gate_refused", user="bob"
    )
    assert refused and refused[0].question == HR_TEXT
    ledger = Ledger(Path(indexed["KBCHAT_INDEX_DIR"]) / "ledger.sqlite3")
    rows = ledger.answers(user="bob")
    assert [r["question"] for r in rows] == [HR_TEXT]
    assert rows[0]["backend"] == "private"
    assert ledger.answers(user="alice") == []
    listed = kbchat(["audit", "--json", "--user", "bob"], indexed)
    assert listed.returncode == 0
    assert {row["user"] for row in json.loads(listed.stdout)} == {"bob"}


def _comparison(ledger: Ledger) -> int:
    return ledger.record_comparison(
        Comparison("q?", Retrieval("q?", [], True, 0.1)), session="s", user="alice"
    )


def test_one_judgement_per_user_per_comparison(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    comparison = _comparison(ledger)
    ledger.record_judgement(comparison, "private", user="alice")
    ledger.record_judgement(comparison, "cloud", user="bob")
    ledger.record_judgement(comparison, "tie", user="alice")  # replaces alice's
    verdicts = sorted((j["user_id"], j["verdict"]) for j in ledger.judgements())
    assert verdicts == [("alice", "tie"), ("bob", "cloud")]


def test_a_ledger_from_before_user_ids_keeps_its_judgements(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    comparison = _comparison(Ledger(path))
    with sqlite3.connect(path) as conn:  # the table as it was: one judgement per comparison
        conn.executescript(
            "DROP TABLE judgements; CREATE TABLE judgements (id INTEGER PRIMARY KEY, "
            "at TEXT NOT NULL, comparison_id INTEGER NOT NULL UNIQUE REFERENCES "
            "comparisons(id), verdict TEXT NOT NULL, comment TEXT);"
            f"INSERT INTO judgements(at, comparison_id, verdict) VALUES ('x', {comparison}, "
            "'private');"
        )
    ledger = Ledger(path)
    ledger.record_judgement(comparison, "cloud", user="bob")
    verdicts = sorted((j["user_id"], j["verdict"]) for j in ledger.judgements())
    assert verdicts == [("", "private"), ("bob", "cloud")]


def test_thumbs_are_per_user(tmp_path: Path) -> None:
    from kbchat.answering.service import Answer

    ledger = Ledger(tmp_path / "ledger.sqlite3")
    answer_id = ledger.record_answer("q?", Answer("private", "m", "a"), user="alice")
    ledger.record_feedback(answer_id, 1, user="alice")
    ledger.record_feedback(answer_id, -1, user="bob")
    ledger.record_feedback(answer_id, -1, user="alice")  # replaces alice's
    assert sorted(f.rating for f in ledger.feedback([answer_id])) == [-1, -1]
    assert ledger.answers(user="alice")[0]["rating"] == -1
