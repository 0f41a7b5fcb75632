"""A user never receives a passage of a document their groups may not read.

Attacks at the receiving end: what the answering service hands on for bob (group ``it``)
(the passages every answer, citation and evidence panel is made of), for a corpus with an
hr-only document. Each attack tries another way in: its verbatim text, a term only it holds,
a follow-up whose earlier question names it, a symbolic link to it in a public folder, and an
edit of its front matter or of the path rules made after the last ingestion.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kbchat.answerers import private_answerer
from kbchat.answering.service import Answerer, Turn
from kbchat.identity import User, acting_user
from kbchat.knowledge import run_ingest, search
from kbchat.settings import AccessSettings, Settings
from tests.conftest import make_settings
from tests.fixtures.documents import write_document

pytestmark = [pytest.mark.security, pytest.mark.integration]

HR_SOURCE = "hr/reviews.md"
UNIQUE = "Quixlotrane"
HR_TEXT = (
    f"The {UNIQUE} review found that Dana Whitcombe will be dismissed on 14 March "
    "after the grievance hearing."
)
PUBLIC = {
    f"it/guide{i}.md": f"Guide {i}: reviews of laptops are filed with the service desk, "
    f"ticket queue {i}."
    for i in range(7)
}
BOB = acting_user("bob", ["it"])
ALICE = acting_user("alice", ["hr"])


def _settings(tmp_path: Path, **access: object) -> Settings:
    base = make_settings(tmp_path, tmp_path / "corpus")
    return base.model_copy(update={"access": AccessSettings(**access, _env_file=None)})


def _corpus(tmp_path: Path, *, front_matter: bool = True) -> Path:
    corpus = tmp_path / "corpus"
    write_document(corpus, HR_SOURCE, "internal", HR_TEXT, access=["hr"] if front_matter else None)
    for source, text in PUBLIC.items():
        write_document(corpus, source, "internal", text)
    return corpus


def _received(answerer: Answerer, question: str, user: User, history: list[Turn] | None = None):
    retrieval = answerer.retrieve(question, history or [], reader=user)
    return retrieval.passages


def _assert_nothing_of_hr(passages: list) -> None:  # type: ignore[type-arg]
    assert passages, "the narrow user must still get passages"
    for passage in passages:
        assert UNIQUE not in passage.hit.text
        assert "Whitcombe" not in passage.hit.text
        assert passage.hit.metadata["source"] != HR_SOURCE


@pytest.fixture
def hr_only(tmp_path: Path) -> Settings:
    _corpus(tmp_path)
    settings = _settings(tmp_path)
    run_ingest(settings)
    return settings


def test_verbatim_text_of_the_hr_document(hr_only: Settings) -> None:
    answerer = private_answerer(hr_only)[0]
    passages = _received(answerer, HR_TEXT, BOB)
    _assert_nothing_of_hr(passages)
    assert len(passages) == hr_only.retrieval.top_k
    # the attack is a real one: alice, who may read it, gets it first
    assert _received(answerer, HR_TEXT, ALICE)[0].hit.metadata["source"] == HR_SOURCE


def test_unique_term_only_the_hr_document_holds(hr_only: Settings) -> None:
    answerer = private_answerer(hr_only)[0]
    _assert_nothing_of_hr(_received(answerer, UNIQUE, BOB))
    for mode in ("keyword", "dense", "hybrid"):
        hits = search(hr_only, UNIQUE, 5, mode=mode, reader=BOB)
        assert all(UNIQUE not in h.text for h in hits)


def test_follow_up_whose_history_names_it(hr_only: Settings) -> None:
    answerer = private_answerer(hr_only)[0]
    history = [Turn(question=f"What did the {UNIQUE} review find about Dana Whitcombe?", answer="")]
    _assert_nothing_of_hr(_received(answerer, "and when?", BOB, history))


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlink_to_it_in_a_public_folder(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, front_matter=False)  # hr-only by the path rule alone
    (corpus / "it" / "reviews-copy.md").symlink_to(corpus / HR_SOURCE)
    settings = _settings(tmp_path, access_rules={"hr/**": ["hr"]})
    run_ingest(settings)
    answerer = private_answerer(settings)[0]
    passages = _received(answerer, HR_TEXT, BOB)
    _assert_nothing_of_hr(passages)
    assert all(p.hit.metadata["source"] != "it/reviews-copy.md" for p in passages)
    assert "it/reviews-copy.md" in {
        p.hit.metadata["source"] for p in _received(answerer, HR_TEXT, ALICE)
    }


def test_front_matter_edit_before_reingest(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, front_matter=False)  # readable by everyone when ingested
    settings = _settings(tmp_path)
    run_ingest(settings)
    answerer = private_answerer(settings)[0]
    assert HR_SOURCE in {p.hit.metadata["source"] for p in _received(answerer, UNIQUE, BOB)}
    write_document(corpus, HR_SOURCE, "internal", HR_TEXT, access=["hr"])  # no re-ingest
    passages = _received(answerer, UNIQUE, BOB)
    _assert_nothing_of_hr(passages)
    assert len(passages) == settings.retrieval.top_k


def test_rule_change_before_reingest(tmp_path: Path) -> None:
    _corpus(tmp_path, front_matter=False)
    run_ingest(_settings(tmp_path))
    narrowed = _settings(tmp_path, access_rules={"hr/*.md": ["hr"]})
    answerer = private_answerer(narrowed)[0]
    passages = _received(answerer, HR_TEXT, BOB)
    _assert_nothing_of_hr(passages)
    assert len(passages) == narrowed.retrieval.top_k
