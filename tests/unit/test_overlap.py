"""The gate's last check: withheld text found anywhere in a prompt, after normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbchat.answering.prompt import SYSTEM_PROMPT, Passage, build_messages
from kbchat.answering.service import Retrieval
from kbchat.errors import CloudNotAllowedError
from kbchat.policy.gate import REPEATS_CONFIDENTIAL, CloudGate
from kbchat.policy.overlap import Shingles, words
from tests.conftest import make_settings
from tests.fixtures.documents import write_document
from vectorstore.records import SearchHit

pytestmark = pytest.mark.unit

FILLER = "The board met on Tuesday and reviewed the quarterly plan in detail. " * 6
SECRET = "Project Heron puts forty two roles at risk in the Leeds contact centre from May."
PASSAGE = f"{FILLER}{SECRET} {FILLER}"  # the secret sits well past the first 200 characters


def test_a_run_of_words_is_found_anywhere_and_however_it_is_wrapped() -> None:
    shingles = Shingles([PASSAGE])
    assert len(FILLER) > 200
    assert shingles.found_in(f"Summary: {SECRET}")
    rewrapped = "PROJECT heron — puts forty\n  two roles at risk in the Leeds, contact centre"
    assert shingles.found_in(rewrapped)
    full_width = "Ｐｒｏｊｅｃｔ Ｈｅｒｏｎ puts forty two roles at risk"
    assert shingles.found_in(full_width)
    assert not shingles.found_in("Project Heron is a new office in Leeds with forty desks.")


def test_short_texts_count_whole_and_tiny_ones_not_at_all() -> None:
    short = Shingles(["L4 Leeds 62,000 83,000"])
    assert short.found_in("the band is l4 leeds 62 000 83 000 a year")
    assert not short.found_in("L4 Leeds 62,000 and more")
    assert not Shingles(["Salary bands"])  # too short to judge: nothing remembered
    assert words("Ａ-b_c  D") == ["a", "b_c", "d"]


def test_text_of_the_instructions_never_counts() -> None:
    quoting = f"Policy text. {SYSTEM_PROMPT}"
    shingles = Shingles([quoting], ignore=[SYSTEM_PROMPT])
    assert not shingles.found_in(SYSTEM_PROMPT)


def test_check_is_linear_in_the_prompt() -> None:
    shingles = Shingles([PASSAGE] * 50)
    prompt = "ordinary words " * 50_000
    assert not shingles.found_in(prompt)  # 100k words: a quadratic check would not return


def _passage(n: int, text: str, source: str, sensitivity: str) -> Passage:
    meta = {"source": source, "sensitivity": sensitivity}
    return Passage(n, SearchHit(f"id{n}", text, meta, 1.0, dense_score=0.7))


def _gate(tmp_path: Path) -> CloudGate:
    cloud = {"cloud_allowed": True, "openai_api_key": "sk-test-1234567890abcd"}
    settings = make_settings(tmp_path, cloud=cloud)
    for source in ("hr/private/heron.md", "ops/minutes.md", "facilities/canteen.md"):
        write_document(
            settings.paths.corpus_dir, source, "internal"
        )  # hr/private/** is confidential by rule
    return CloudGate(settings)


def test_gate_stops_a_prompt_holding_the_middle_of_a_withheld_passage(tmp_path: Path) -> None:
    gate = _gate(tmp_path)
    confidential = _passage(1, PASSAGE, "hr/private/heron.md", "confidential")
    public = _passage(2, "The canteen opens at eight.", "facilities/canteen.md", "internal")
    decision = gate.review(Retrieval("Heron?", [confidential, public], True, 0.0))
    sent = build_messages("Heron?", [public])
    gate.check_prompt(sent, decision)  # clean
    leaked = build_messages(f"Heron? I heard: {SECRET.lower()}", [public])
    with pytest.raises(CloudNotAllowedError, match="confidential passage"):
        gate.check_prompt(leaked, decision)


def test_gate_withholds_a_passage_that_repeats_a_confidential_one(tmp_path: Path) -> None:
    gate = _gate(tmp_path)
    confidential = _passage(1, PASSAGE, "hr/private/heron.md", "confidential")
    quoting = _passage(2, f"Minutes, forwarded: {SECRET}", "ops/minutes.md", "internal")
    public = _passage(3, "The canteen opens at eight.", "facilities/canteen.md", "internal")
    decision = gate.review(Retrieval("Heron?", [confidential, quoting, public], True, 0.0))
    assert [(w.passage.n, w.reason) for w in decision.withheld] == [
        (1, "confidential"),
        (2, REPEATS_CONFIDENTIAL),
    ]
    assert decision.retrieval is not None
    assert [p.n for p in decision.retrieval.passages] == [3]
