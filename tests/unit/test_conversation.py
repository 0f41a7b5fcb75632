"""The conversation's history and taint rule (kbchat.conversation), on hand-made answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbchat.answering.prompt import Passage
from kbchat.answering.service import NOTHING_FOUND, Answer, Retrieval
from kbchat.compare import Comparison
from kbchat.conversation import Exchange, carried_answer, history, is_tainted
from kbchat.policy.gate import CloudGate
from tests.conftest import make_settings
from tests.fixtures.documents import write_passages
from vectorstore.records import SearchHit

pytestmark = pytest.mark.unit


def _passage(n: int, source: str, sensitivity: str = "internal") -> Passage:
    meta = {"source": source, "sensitivity": sensitivity}
    return Passage(n, SearchHit(f"{source}#{n}", f"text of {source}", meta, 1.0))


LEAVE = _passage(1, "hr/leave.md")
BANDS = _passage(1, "hr/private/bands.csv", "confidential")
VPN = _passage(1, "it/vpn.txt")


def _answer(text: str, *passages: Passage, backend: str = "private") -> Answer:
    return Answer(backend, "m", text, passages=list(passages))  # type: ignore[arg-type]


def _gate(tmp_path: Path, **ingest: object) -> CloudGate:
    cloud = {"cloud_allowed": True, "openai_api_key": "sk-test-1234567890abcd"}
    settings = make_settings(tmp_path, cloud=cloud, **ingest)
    write_passages(settings.paths.corpus_dir, LEAVE, BANDS, VPN)
    return CloudGate(settings)


def test_taint_passes_to_every_later_exchange(tmp_path: Path) -> None:
    exchanges = [
        Exchange("Leave?", answer=_answer("27 days [1].", LEAVE)),
        Exchange("L4 band?", answer=_answer("62,000 [1].", BANDS)),
        Exchange("Say that again?", answer=_answer("It was 62,000.", VPN)),  # clean passages
        Exchange("VPN?", choice="cloud", answer=_answer("Use the client.", VPN, backend="cloud")),
    ]
    turns = history(exchanges, _gate(tmp_path))
    assert [t.used_confidential for t in turns] == [False, True, True, True]
    assert turns[1].passages == (BANDS,) and turns[2].passages == (VPN,)
    assert is_tainted(exchanges, _gate(tmp_path)) and not is_tainted(exchanges[:1], _gate(tmp_path))


def test_an_exchange_without_a_usable_answer_still_taints_the_rest(tmp_path: Path) -> None:
    failed = Exchange("L4 band?", answer=_answer("62,0", BANDS), error="interrupted")
    nothing = Exchange("Unrelated?", answer=Answer("private", "m", NOTHING_FOUND))
    nothing.answer.answered_by_model = False  # type: ignore[union-attr]
    later = Exchange("More?", answer=_answer("It was 62,000.", VPN))
    turns = history([failed, nothing, later], _gate(tmp_path))
    assert [(t.question, t.used_confidential) for t in turns] == [("More?", True)]


def test_passages_are_judged_by_the_rules_in_force_now(tmp_path: Path) -> None:
    exchanges = [Exchange("Leave?", answer=_answer("27 days [1].", LEAVE))]
    assert not history(exchanges, _gate(tmp_path))[0].used_confidential
    stricter = _gate(tmp_path, confidential_paths=["hr/**"])
    assert history(exchanges, stricter)[0].used_confidential
    gated = stricter.review(
        Retrieval("And carry over?", [VPN], True, 0.0), history(exchanges, stricter)
    )
    assert gated.history == [] and gated.history_withheld == 1


def test_both_answers_of_a_comparison_count_and_the_private_one_carries_on(
    tmp_path: Path,
) -> None:
    retrieval = Retrieval("L4 band?", [BANDS, VPN], True, 0.0)
    compared = Comparison(
        "L4 band?",
        retrieval,
        private=_answer("62,000 [1].", BANDS, VPN),
        cloud=_answer("I cannot tell [1].", VPN, backend="cloud"),
    )
    assert carried_answer(compared) is compared.private
    compared.errors["private"] = "the model failed"
    assert carried_answer(compared) is compared.cloud
    exchange = Exchange("L4 band?", choice="both", answer=compared.cloud, compared=compared)
    [turn] = history([exchange], _gate(tmp_path))
    assert turn.used_confidential  # the private model was given the confidential passage
    assert sorted(p.source for p in turn.passages) == [BANDS.source, VPN.source]
