"""Document access enforced inside retrieval, on a real Chroma and keyword index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbchat.access import current_access
from kbchat.admin.documents import set_document_access
from kbchat.answerers import private_answerer
from kbchat.answering.service import Answerer
from kbchat.identity import acting_user, local_user
from kbchat.knowledge import (
    index_for,
    manifest_for,
    may_read_source,
    readable_sources,
    run_ingest,
    stats,
)
from kbchat.overrides import overrides_path
from kbchat.settings import AccessSettings, Settings
from tests.conftest import make_settings
from tests.fixtures.cli import kbchat
from tests.fixtures.documents import write_document

pytestmark = pytest.mark.integration

HR_SOURCE = "hr/salaries.md"
HR_TEXT = "The Zorblax salary band for senior engineers tops out at 142,000 crowns a year."
PUBLIC = {
    f"it/topic{i}.md": f"Topic {i}: salary questions go to the payroll desk, room {100 + i}."
    for i in range(8)
}


def with_access(settings: Settings, **fields: object) -> Settings:
    return settings.model_copy(update={"access": AccessSettings(**fields, _env_file=None)})


def build(tmp_path: Path, **access: object) -> Settings:
    corpus = tmp_path / "corpus"
    write_document(corpus, HR_SOURCE, "internal", HR_TEXT, access=["HR "])
    for source, text in PUBLIC.items():
        write_document(corpus, source, "internal", text)
    settings = with_access(make_settings(tmp_path, corpus), **access)
    run_ingest(settings)
    return settings


def answerer(settings: Settings) -> Answerer:
    """The private answerer (its model loads on the first answer; retrieval loads none)."""
    return private_answerer(settings)[0]


def sources(settings: Settings, question: str, reader: object) -> list[str]:
    hits = answerer(settings).retrieve(question, reader=reader)  # type: ignore[arg-type]
    return [str(p.hit.metadata["source"]) for p in hits.passages]


@pytest.fixture
def hr_settings(tmp_path: Path) -> Settings:
    return build(tmp_path)


def test_narrow_user_never_gets_the_hr_doc_and_still_gets_k(hr_settings: Settings) -> None:
    bob = acting_user("bob", ["it"])
    alice = acting_user("alice", ["hr"])
    for question in (HR_TEXT, "Zorblax", "salary band crowns"):
        found = sources(hr_settings, question, bob)
        assert HR_SOURCE not in found
        assert len(found) == hr_settings.retrieval.top_k
    assert sources(hr_settings, "Zorblax salary band", alice)[0] == HR_SOURCE
    assert sources(hr_settings, "Zorblax salary band", local_user())[0] == HR_SOURCE


def test_stored_access_filters_inside_both_retrievers(hr_settings: Settings) -> None:
    index = index_for(hr_settings)
    for mode in ("dense", "keyword", "hybrid"):
        hits = index.search("Zorblax salary band", 3, mode=mode, readable_by=["everyone", "it"])
        assert hits and HR_SOURCE not in {h.metadata["source"] for h in hits}
        hits = index.search("Zorblax salary band", 3, mode=mode, readable_by=["hr"])
        assert [h.metadata["source"] for h in hits] == [HR_SOURCE]
    assert index.stored_access()[HR_SOURCE] == {"hr": 1}


def test_docs_access_takes_effect_without_reingest(hr_settings: Settings) -> None:
    bob = acting_user("bob", ["it"])
    decision = set_document_access(hr_settings, HR_SOURCE, ["hr", "it"], user="admin")
    # front matter says hr, the admin says hr+it: only hr may read (intersection)
    assert decision.groups == {"hr"}
    assert HR_SOURCE not in sources(hr_settings, "Zorblax", bob)
    public = next(iter(PUBLIC))
    set_document_access(hr_settings, public, ["finance"], user="admin")
    assert public not in sources(hr_settings, PUBLIC[public], bob)
    assert not may_read_source(hr_settings, bob, public)
    assert may_read_source(hr_settings, acting_user("carol", ["finance"]), public)
    set_document_access(hr_settings, public, None, user="admin")
    assert public in sources(hr_settings, PUBLIC[public], bob)


def test_reconcile_after_rule_change(tmp_path: Path) -> None:
    settings = build(tmp_path)
    bob = acting_user("bob", ["it"])
    assert "it/topic0.md" in sources(settings, PUBLIC["it/topic0.md"], bob)
    narrowed = with_access(settings, access_rules={"it/topic0.md": ["finance"]})
    # before any re-ingest: the stale stored access is caught after the search
    assert "it/topic0.md" not in sources(narrowed, PUBLIC["it/topic0.md"], bob)
    report = run_ingest(with_access(settings, access_rules={"it/topic1.md": ["finance"]}))
    assert report.access_rewritten == 2  # topic0 back to everyone, topic1 to finance
    stored = index_for(settings).stored_access()
    assert stored["it/topic1.md"] == {"finance": 1}
    assert stored["it/topic0.md"] == {"everyone": 1}


def test_stats_count_only_readable_documents(hr_settings: Settings) -> None:
    everything = stats(hr_settings)
    bob = stats(hr_settings, acting_user("bob", ["it"]))
    assert everything.documents == len(PUBLIC) + 1
    assert bob.documents == len(PUBLIC)
    hr_chunks = len(manifest_for(hr_settings).entries()[HR_SOURCE].chunk_ids)
    assert bob.chunks == everything.chunks - hr_chunks
    assert current_access(hr_settings).decide(HR_SOURCE).reason == "front matter"


def test_cli_docs_access_and_list(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_document(corpus, HR_SOURCE, "internal", HR_TEXT, access=["hr"])
    write_document(corpus, "it/vpn.md", "internal", "Connect with the VPN client.")
    env = {
        "KBCHAT_CORPUS_DIR": str(corpus),
        "KBCHAT_INDEX_DIR": str(tmp_path / "index"),
        "KBCHAT_ACCESS_RULES": "it/**=IT,everyone",
    }
    assert kbchat(["ingest"], env).returncode == 0
    done = kbchat(["docs", "access", "it/vpn.md", "it, Finance"], env)
    assert done.returncode == 0, done.stderr
    assert "it/vpn.md: readable by it (path rule it/** + admin setting)" in done.stdout
    rows = {r["source"]: r for r in json.loads(kbchat(["docs", "list", "--json"], env).stdout)}
    assert rows["it/vpn.md"]["access"] == ["it"]
    assert rows["it/vpn.md"]["admin_access"] == ["finance", "it"]
    assert rows[HR_SOURCE]["access"] == ["hr"]
    assert rows[HR_SOURCE]["access_reason"] == "front matter"
    settings = with_access(
        make_settings(tmp_path, corpus), access_rules={"it/**": ["it", "everyone"]}
    )
    assert index_for(settings).stored_access()["it/vpn.md"] == {"it": 1}  # no re-ingest
    text = kbchat(["docs", "list"], env).stdout
    assert "access: hr (front matter)" in text
    cleared = kbchat(["docs", "access", "it/vpn.md", "--clear"], env)
    assert "readable by everyone, it (path rule it/**)" in cleared.stdout
    assert kbchat(["docs", "access", "it/vpn.md"], env).returncode == 2
    audit = kbchat(["audit", "--json"], env)
    assert audit.stdout.count("access_overrides") >= 2


def test_fail_closed_when_access_cannot_be_determined(hr_settings: Settings) -> None:
    bob = acting_user("bob", ["it"])
    current = current_access(hr_settings)
    for outside in ("../etc/passwd", "/etc/passwd", "missing.md", ""):
        assert current.groups(outside) == frozenset()
        assert not current.decide(outside).determined
    assert readable_sources(hr_settings, bob) == set(PUBLIC)
    overrides_path(hr_settings).write_text("{not json", encoding="utf-8")
    broken = current_access(hr_settings)
    assert broken.groups("it/topic0.md") == frozenset()
    assert not broken.may_read(bob, "it/topic0.md")
    assert broken.may_read(local_user(), "it/topic0.md")
    assert sources(hr_settings, PUBLIC["it/topic0.md"], bob) == []
    assert readable_sources(hr_settings, bob) == set()
    run_ingest(hr_settings)  # ingestion fails closed too (files re-processed as confidential)
    stored = index_for(hr_settings).stored_access()
    assert all(set(counts) == {""} for counts in stored.values()), stored
