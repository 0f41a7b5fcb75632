"""Every kbchat eval metric on a small hand-built run; the expected figures are worked out here.

Six questions, answered by a "private" and a "cloud" model. The answers are real `Answer`
objects over real `Passage`/`SearchHit`s; citations and groundedness come from the real
answering code, as in a run.
"""

from __future__ import annotations

import pytest

from kbchat.answering.citations import map_citations
from kbchat.answering.prompt import Passage
from kbchat.answering.scoring import groundedness
from kbchat.answering.service import NOTHING_FOUND, Answer
from kbchat.evaluation import EvalQuestion, percentile, score_retrieval
from kbchat.evaluation.metrics import (
    ModelAnswer,
    first_gold_rank,
    not_asked_answer,
    score_answer,
)
from kbchat.evaluation.runner import EvalRow, EvalRun
from kbchat.llm.base import GenerationStats
from vectorstore.records import SearchHit

pytestmark = pytest.mark.unit

LEAVE = "Everyone gets 27 days of annual leave plus bank holidays."
VPN = "Sessions last 12 hours, then sign in again through the browser."
BYPASS = "Bypass codes work for 24 hours."
OTHER = "The canteen opens at 08:00 on weekdays."

Q = [
    EvalQuestion("Days of leave?", ("hr/leave.md",), ("27 days",)),
    EvalQuestion("VPN session?", ("it/vpn.txt",), ("12 hours", "browser")),
    EvalQuestion("Hotel in London?", ("travel/per_diem.csv",), ("220",)),
    EvalQuestion("Bypass code?", ("it/mfa.md", "security/policy.pdf"), ("24 hours",)),
    EvalQuestion("Pension provider?", unanswerable=True),
    EvalQuestion("Summer party?", unanswerable=True),
]
# Sources of the retrieved passages, best first: gold at rank 1, 2, nowhere, 3.
RETRIEVED = [
    ("hr/leave.md", "it/vpn.txt"),
    ("hr/leave.md", "it/vpn.txt"),
    ("hr/leave.md", "it/vpn.txt", "misc/canteen.md"),
    ("misc/canteen.md", "hr/leave.md", "security/policy.pdf"),
    ("hr/leave.md",),
    ("misc/canteen.md",),
]
TEXTS = {
    "hr/leave.md": LEAVE,
    "it/vpn.txt": VPN,
    "misc/canteen.md": OTHER,
    "security/policy.pdf": BYPASS,
}


def passages(sources: tuple[str, ...]) -> list[Passage]:
    return [
        Passage(n, SearchHit(f"c{n}", TEXTS[s], {"source": s}, 1.0))
        for n, s in enumerate(sources, start=1)
    ]


def answer(
    backend: str,
    i: int,
    text: str,
    *,
    ttft: float | None = None,
    seconds: float | None = None,
    tokens: tuple[int, int] = (0, 0),
    called: bool = True,
    error: str | None = None,
    cost: float | None = None,
) -> ModelAnswer:
    """Score an answer to question ``i`` built as the answering code builds it."""
    given = passages(RETRIEVED[i]) if called else []
    result = Answer(backend, f"{backend}-model", text=text, passages=given)  # type: ignore[arg-type]
    result.answered_by_model = called
    result.citations = map_citations(text, given)
    result.groundedness = groundedness(text, given) if called else None
    if seconds is not None:
        result.stats = GenerationStats(
            model=f"{backend}-model",
            tokens_in=tokens[0],
            tokens_out=tokens[1],
            ttft_s=ttft,
            seconds=seconds,
            queued_s=0.0,
        )
    result.error = error
    result.cost_usd = cost
    return score_answer(Q[i], result)


PRIVATE = [
    # 1. phrase found ("27 days"), cites its gold passage, grounded.
    answer("private", 0, "Everyone gets 27 days of annual leave [1].",
           ttft=1.0, seconds=2.0, tokens=(100, 10)),
    # 2. "twelve" = "12"; "browser" missing; cites [2] (gold) and [1] (not); one sentence of two
    #    supported.
    answer("private", 1, "Sessions last twelve hours [2]. The canteen serves vegan lunches [1].",
           ttft=2.0, seconds=4.0, tokens=(200, 20)),
    # 3. a false refusal by the model: no citation, no claim.
    answer("private", 2, "The documents do not cover hotel rates.",
           ttft=0.5, seconds=1.0, tokens=(150, 8)),
    # 4. [3] cited twice counts once; both sentences supported.
    answer("private", 3, "Bypass codes work for 24 hours [3]. Bypass codes work for 24 hours [3].",
           ttft=3.0, seconds=6.0, tokens=(120, 12)),
    # 5. nothing relevant retrieved: the model was not called (a refusal, not "written").
    answer("private", 4, NOTHING_FOUND, called=False),
    # 6. an unanswerable question answered, unsupported.
    answer("private", 5, "Pensions are provided by Aviva [1].",
           ttft=1.5, seconds=3.0, tokens=(90, 9)),
]  # fmt: skip
CLOUD_COSTS = [0.0000075, 0.0000600, 0.0, 0.0000300, 0.0, 0.0000150]
CLOUD = [
    answer("cloud", 0, "", error="The cloud model is rate-limiting requests (HTTP 429).",
           ttft=None, seconds=0.2, tokens=(50, 0), cost=CLOUD_COSTS[0]),
    answer("cloud", 1, "Sessions last 12 hours; then sign in through the browser [2].",
           ttft=0.4, seconds=0.8, tokens=(200, 50), cost=CLOUD_COSTS[1]),
    not_asked_answer("cloud", "cloud-model", "Every passage found is confidential.", withheld=3),
    answer("cloud", 3, "Bypass codes work for 24 hours [3].",
           ttft=0.2, seconds=0.6, tokens=(100, 25), cost=CLOUD_COSTS[3]),
    answer("cloud", 4, "I could not find anything about pensions in the documents.",
           ttft=0.3, seconds=0.5, tokens=(60, 10), cost=CLOUD_COSTS[4]),
    answer("cloud", 5, "The documents do not cover a summer party. Ask the People Team.",
           ttft=0.1, seconds=0.9, tokens=(50, 12), cost=CLOUD_COSTS[5]),
]  # fmt: skip


def build_run() -> EvalRun:
    rows = [
        EvalRow(
            number=i + 1,
            question=q,
            retrieved=RETRIEVED[i],
            first_gold_rank=first_gold_rank(RETRIEVED[i], q.gold_files),
            relevant=i != 4,
            retrieval_s=0.01 * (i + 1),
            answers={"private": PRIVATE[i], "cloud": CLOUD[i]},
        )
        for i, q in enumerate(Q)
    ]
    names = {"private": "private-model", "cloud": "cloud-model"}
    return EvalRun("hand.jsonl", 5, ("private", "cloud"), names, rows, "2026-11-29", 12.5)


def test_retrieval_recall_and_mrr() -> None:
    assert [first_gold_rank(RETRIEVED[i], Q[i].gold_files) for i in range(4)] == [1, 2, None, 3]
    summary = build_run().retrieval()
    # Four answerable questions with gold files; gold found for three of them.
    assert summary.questions == 4 and summary.hits == 3
    assert summary.recall_at_k == pytest.approx(3 / 4)
    assert summary.mrr == pytest.approx((1 + 1 / 2 + 0 + 1 / 3) / 4)
    assert summary.hits_at_1 == 1 and summary.recall_at_1 == pytest.approx(1 / 4)
    # The same through the retrieval-only entry point, and with a tighter cut-off.
    lookup = {q.question: RETRIEVED[i] for i, q in enumerate(Q)}
    at_2 = score_retrieval(Q, lambda question: lookup[question], 2)
    assert at_2.recall_at_k == pytest.approx(2 / 4)
    assert at_2.mrr == pytest.approx((1 + 1 / 2) / 4)


def test_per_answer_figures() -> None:
    first, second, third, fourth, fifth, sixth = PRIVATE
    assert first.key_phrases_ok and first.citations == ((1, "hr/leave.md"),)
    assert first.citation_precision == 1.0 and first.groundedness == 1.0
    assert second.phrases_matched == ("12 hours",) and second.phrases_missing == ("browser",)
    assert second.citation_precision == pytest.approx(1 / 2)
    assert second.groundedness == pytest.approx(1 / 2)
    assert third.refused and third.outcome == "refused" and third.citation_precision is None
    assert third.groundedness is None  # only "not covered": nothing to check
    assert fourth.citations == ((3, "security/policy.pdf"),) and fourth.cited_gold == 1
    assert fifth.refused and not fifth.written and fifth.ttft_s is None
    assert not sixth.refused and sixth.groundedness == 0.0
    assert sixth.key_phrases_ok is None and sixth.cited_gold is None  # unanswerable: n/a
    assert CLOUD[0].outcome == "failed" and CLOUD[2].outcome == "not_asked"
    assert CLOUD[4].refused and CLOUD[5].refused


def test_private_summary() -> None:
    s = build_run().model("private")
    assert (s.questions, s.written, s.not_called, s.failed, s.not_asked) == (6, 5, 1, 0, 0)
    # Key phrases: questions 1-4 have phrases; all found in 1 and 4.
    assert (s.key_phrases.hits, s.key_phrases.total) == (2, 4)
    # Unanswerable 5 (not called) and 6 (answered): one refused of two.
    assert (s.refusal_accuracy.hits, s.refusal_accuracy.total) == (1, 2)
    # Answerable 1-4: question 3 refused.
    assert (s.false_refusals.hits, s.false_refusals.total) == (1, 4)
    # Cited passages: 1 (1 gold) + 2 (1 gold of 2) + 4 (1 gold) = 3 gold of 4; 3 cites nothing.
    assert (s.citation_precision.hits, s.citation_precision.total) == (3, 4)
    assert (s.cited_answers.hits, s.cited_answers.total) == (3, 4)
    # Groundedness of the written answers with a claim: 1, 0.5, 1, 0 (3 has no claim).
    assert s.groundedness == pytest.approx((1 + 0.5 + 1 + 0) / 4) and s.grounded_answers == 4
    # TTFT 1, 2, 0.5, 3, 1.5 -> sorted 0.5 1 1.5 2 3: p50 = 1.5; p95 at rank 3.8 = 2 + 0.8 * 1.
    assert s.ttft_p50 == pytest.approx(1.5) and s.ttft_p95 == pytest.approx(2.8)
    # Totals 2, 4, 1, 6, 3 -> 1 2 3 4 6: p50 = 3; p95 = 4 + 0.8 * 2.
    assert s.seconds_p50 == pytest.approx(3.0) and s.seconds_p95 == pytest.approx(5.6)
    assert (s.tokens_in, s.tokens_out, s.cost_usd) == (660, 59, 0.0)


def test_cloud_summary_leaves_out_failed_and_not_asked() -> None:
    s = build_run().model("cloud")
    assert (s.questions, s.written, s.failed, s.not_asked) == (6, 4, 1, 1)
    # Scored answerable with phrases: 2 and 4 (1 failed, 3 not asked); both all found.
    assert (s.key_phrases.hits, s.key_phrases.total) == (2, 2)
    assert (s.refusal_accuracy.hits, s.refusal_accuracy.total) == (2, 2)
    assert (s.false_refusals.hits, s.false_refusals.total) == (0, 2)
    assert (s.citation_precision.hits, s.citation_precision.total) == (2, 2)
    # Groundedness: 2 and 4 fully supported; 5 makes no claim; in 6 the advice "Ask the People
    # Team." is a claim that cites nothing (0).
    assert s.groundedness == pytest.approx((1 + 1 + 0) / 3) and s.grounded_answers == 3
    # TTFT 0.4, 0.2, 0.3, 0.1 -> 0.1 0.2 0.3 0.4: p50 0.25, p95 at rank 2.85 = 0.3 + 0.85 * 0.1.
    assert s.ttft_p50 == pytest.approx(0.25) and s.ttft_p95 == pytest.approx(0.385)
    # Tokens and cost count every call, the failed one too.
    assert (s.tokens_in, s.tokens_out) == (460, 97)
    assert s.cost_usd == pytest.approx(sum(CLOUD_COSTS))


def test_percentile_is_linear_between_closest_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([1.0, 2.0, 3.0, 4.0], 0) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0


def test_json_rows_add_up_to_the_summary() -> None:
    data = build_run().to_dict()
    rows, summary = data["rows"], data["summary"]
    assert summary["questions"] == len(rows) == 6
    assert (summary["answerable"], summary["unanswerable"]) == (4, 2)
    assert summary["retrieval"]["recall_at_k"] == 0.75
    assert summary["retrieval"]["recall_at_1"] == 0.25
    assert summary["retrieval"]["not_relevant"] == 1
    for label in ("private", "cloud"):
        model = summary["per_model"][label]
        answers = [row["answers"][label] for row in rows]
        assert model["tokens_in"] == sum(a["tokens_in"] for a in answers)
        assert model["failed"] == sum(a["outcome"] == "failed" for a in answers)
        assert model["key_phrases"]["n"] == sum(a["key_phrases_ok"] is True for a in answers)
        cited = sum(len(a["citations"]) for a in answers if a["cited_gold"] is not None)
        assert model["citation_precision"]["of"] == cited
    first = rows[0]
    assert first["first_gold_rank"] == 1 and first["retrieved"] == ["hr/leave.md", "it/vpn.txt"]
    assert first["answers"]["cloud"]["error"].startswith("The cloud model is rate-limiting")
    assert rows[2]["answers"]["cloud"]["not_asked"] and rows[2]["answers"]["cloud"]["withheld"] == 3
    assert summary["per_model"]["private"]["citation_precision"]["value"] == 0.75
    assert summary["per_model"]["cloud"]["key_phrases"] == {"value": 1.0, "n": 2, "of": 2}
