"""The current label of a document (`kbchat.policy.labels`), and admin settings failing closed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from kbchat.answering.prompt import Passage
from kbchat.answering.service import Retrieval, Turn
from kbchat.errors import ConfigError
from kbchat.overrides import (
    effective_settings,
    overrides_path,
    read_overrides,
    set_override,
    set_sensitivity_override,
)
from kbchat.policy.gate import CloudGate
from kbchat.policy.labels import current_label, current_labels
from kbchat.settings import Settings
from tests.conftest import make_settings
from vectorstore.records import SearchHit

pytestmark = pytest.mark.unit


@pytest.fixture
def kb(small_corpus: Path, tmp_path: Path) -> Settings:
    return make_settings(tmp_path, small_corpus)


def test_front_matter_default_and_path_rule_are_read_from_the_files_now(kb: Settings) -> None:
    assert current_label(kb, "hr/leave.md") == "internal"
    assert current_label(kb, "hr/salaries.md") == "confidential"
    assert current_label(kb, "it/vpn.txt") == "internal"  # the default
    leave = kb.paths.corpus_dir / "hr" / "leave.md"
    leave.write_text(leave.read_text().replace("internal", "confidential"), encoding="utf-8")
    os.utime(leave, ns=(1, 1))  # another identity for the cache, whatever the clock says
    decision = current_labels(kb).decide("hr/leave.md")
    assert (decision.label, decision.reason) == ("confidential", "front matter")
    set_override(kb, "confidential_paths", ["it/**"])
    assert current_labels(kb).decide("it/vpn.txt").reason == "path rule"


def test_admin_label_counts_at_once_and_the_strictest_label_wins(kb: Settings) -> None:
    set_sensitivity_override(kb, "it/vpn.txt", "confidential")
    assert current_label(kb, "it/vpn.txt") == "confidential"
    set_sensitivity_override(kb, "it/printers.txt", "public")
    assert current_label(kb, "it/printers.txt") == "public"
    set_sensitivity_override(kb, "hr/salaries.md", "public")  # front matter: confidential
    assert current_label(kb, "hr/salaries.md") == "confidential"
    set_sensitivity_override(kb, "hr/leave.md", "public")  # front matter: internal
    assert current_label(kb, "hr/leave.md") == "internal"


@pytest.mark.parametrize(
    "source", ["", "/etc/passwd", "../small/hr/leave.md", "hr/../hr/leave.md", "gone.md", "hr"]
)
def test_a_label_that_cannot_be_determined_is_confidential(kb: Settings, source: str) -> None:
    decision = current_labels(kb).decide(source)
    assert decision.label == "confidential" and not decision.determined, decision


def test_unreadable_front_matter_and_unknown_labels_are_confidential(kb: Settings) -> None:
    bad = kb.paths.corpus_dir / "bad.md"
    bad.write_text("---\ntitle: [unclosed\n---\nText.\n", encoding="utf-8")
    assert current_label(kb, "bad.md") == "confidential"
    odd = kb.paths.corpus_dir / "odd.md"
    odd.write_text("---\nsensitivity: top-secret\n---\nText.\n", encoding="utf-8")
    assert not current_labels(kb).decide("odd.md").determined


def test_a_link_counts_the_path_rules_of_its_target_and_may_not_leave_the_folder(
    kb: Settings, tmp_path: Path
) -> None:
    corpus = kb.paths.corpus_dir
    (corpus / "hr" / "private").mkdir()
    (corpus / "hr" / "private" / "bands.txt").write_text("Bands.\n", encoding="utf-8")
    (corpus / "bands-link.txt").symlink_to(corpus / "hr" / "private" / "bands.txt")
    outside = tmp_path / "outside.txt"
    outside.write_text("Elsewhere.\n", encoding="utf-8")
    (corpus / "outside-link.txt").symlink_to(outside)
    assert current_label(kb, "bands-link.txt") == "confidential"
    assert not current_labels(kb).decide("outside-link.txt").determined


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[1, 2]",
        b'{"cloud_allowed": "yes"}',
        b'{"sensitivity_overrides": {"a.md": 5}}',
        b"\xff\xfe\x00garbage",
    ],
)
def test_an_unusable_admin_settings_file_fails_closed(kb: Settings, content: bytes) -> None:
    kb.cloud.cloud_allowed = True
    kb.ingest.confidential_paths = []
    path = overrides_path(kb)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    state = read_overrides(kb)
    assert state.error and str(path) in state.error and "cannot be used" in state.error
    effective = effective_settings(kb)
    assert effective.cloud.cloud_allowed is False
    assert effective.ingest.confidential_paths == ["**"]
    assert current_label(kb, "welcome.md") == "confidential"
    with pytest.raises(ConfigError, match="cannot be used"):
        set_override(kb, "cloud_allowed", True)
    assert path.read_bytes() == content, "the admin's file is left for them to fix"


def test_an_unreadable_admin_settings_file_fails_closed(kb: Settings) -> None:
    kb.cloud.cloud_allowed = True
    path = overrides_path(kb)
    path.mkdir(parents=True)  # exists, cannot be read as a file
    assert read_overrides(kb).error
    assert effective_settings(kb).cloud.cloud_allowed is False


def test_no_admin_settings_file_means_the_environment(kb: Settings) -> None:
    kb.cloud.cloud_allowed = True
    assert read_overrides(kb).error is None
    assert effective_settings(kb).cloud.cloud_allowed is True
    assert current_label(kb, "welcome.md") == "internal"


def _retrieval(*sources: str) -> Retrieval:
    passages = [
        Passage(
            n, SearchHit(f"id{n}", f"Text of {s}.", {"source": s, "sensitivity": "internal"}, 1.0)
        )
        for n, s in enumerate(sources, start=1)
    ]
    return Retrieval("q", passages, True, 0.0)


def test_the_gate_applies_the_label_in_force_to_passages_and_earlier_turns(kb: Settings) -> None:
    kb.cloud.cloud_allowed = True
    kb.cloud.openai_api_key = SecretStr("sk-test-1234567890abcd")
    history = [Turn("q1", "a1", sources=("it/vpn.txt",)), Turn("q2", "a2", sources=("welcome.md",))]
    retrieval = _retrieval("it/vpn.txt", "it/printers.txt", "gone.md")
    before = CloudGate(kb).review(retrieval, history)
    assert [w.passage.source for w in before.withheld] == ["gone.md"]  # undetermined
    assert [t.question for t in before.history] == ["q1", "q2"]
    set_sensitivity_override(kb, "it/vpn.txt", "confidential")  # no re-ingest
    after = CloudGate(kb).review(retrieval, history)
    assert [w.passage.source for w in after.withheld] == ["it/vpn.txt", "gone.md"]
    # the turn drawn from it stays behind, and so does every later one (the taint passes on)
    assert [t.question for t in after.history] == []
    set_sensitivity_override(kb, "it/vpn.txt", None)
    set_sensitivity_override(kb, "welcome.md", "confidential")
    later = CloudGate(kb).review(retrieval, history)
    assert [t.question for t in later.history] == ["q1"], "only the turn drawn from it"


def test_the_gate_is_off_while_the_admin_settings_file_cannot_be_used(kb: Settings) -> None:
    kb.cloud.cloud_allowed = True
    kb.cloud.openai_api_key = SecretStr("sk-test-1234567890abcd")
    overrides_path(kb).parent.mkdir(parents=True, exist_ok=True)
    overrides_path(kb).write_text("{", encoding="utf-8")
    decision = CloudGate(kb).review(_retrieval("it/vpn.txt"))
    assert not decision.allowed and "admin settings cannot be read" in (decision.reason or "")
