"""The judge's prompt and reply reading, the ledger rows it keeps, and the report's figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbchat.judge import (
    EvidencePassage,
    JudgeCase,
    JudgeOutcome,
    OrderReply,
    combine,
    judge_messages,
    parse_reply,
    to_verdict,
)
from kbchat.judge_store import JudgeStore
from kbchat.ledger import Ledger
from kbchat.verdict.figures import Rated, build_report, group_verdict, topic_at_depth
from kbchat.verdict.ppi import ppi_mean
from kbchat.verdict.stats import wilson_interval
from tests.fixtures.comparisons import LEAVE, VPN, comparison, record

pytestmark = pytest.mark.unit
VERDICT_KEYS = [
    "judgements", "human", "judge", "wins", "ties", "losses", "win_or_tie", "ci_low",
    "ci_high", "verdict", "more_needed",
]  # fmt: skip


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"verdict": "A", "reason": "cites the policy"}', ("A", "cites the policy")),
        ('Sure! ```json\n{"verdict": "b", "reason": "x"}\n```', ("B", "x")),
        ('{"verdict": "Both wrong", "reason": ""}', ("both_wrong", "")),
        ('{"verdict": "tie"}', ("tie", "")),
        ('{"verdict": "C", "reason": "?"}', None),
        ('{"verdict": "A", "reason": ', None),  # cut off
        ("A is better.", None),
        ("", None),
        ('["A"]', None),
    ],
)
def test_replies_are_parsed_or_refused(reply: str, expected: tuple[str, str] | None) -> None:
    assert parse_reply(reply) == expected


def test_labels_map_back_to_the_models_in_each_order() -> None:
    assert (to_verdict("A", "private"), to_verdict("B", "private")) == ("private", "cloud")
    assert (to_verdict("A", "cloud"), to_verdict("B", "cloud")) == ("cloud", "private")
    assert to_verdict("both_wrong", "cloud") == "both_wrong"
    assert combine("private", "private") == "private"
    assert combine("private", "cloud") == "tie"  # position bias: disagreeing orders tie
    assert combine("both_wrong", "tie") == "tie"


def test_the_prompt_swaps_the_answers_and_carries_the_passages() -> None:
    case = JudgeCase("How much leave?", [EvidencePassage(1, "hr/leave.md", "27 days.")],
                     "PRIVATE-ANSWER", "CLOUD-ANSWER")  # fmt: skip
    first = judge_messages(case, "private")[1].content
    second = judge_messages(case, "cloud")[1].content
    assert first.index("PRIVATE-ANSWER") < first.index("CLOUD-ANSWER")
    assert second.index("CLOUD-ANSWER") < second.index("PRIVATE-ANSWER")
    assert "[1] (hr/leave.md)\n27 days." in first
    assert "JSON" in judge_messages(case, "private")[0].content


def test_an_outcome_needs_both_orders_parsed() -> None:
    good = JudgeOutcome("judge", [OrderReply("private", "{}", "private", "r1"),
                                  OrderReply("cloud", "{}", "cloud", "r2")])  # fmt: skip
    assert good.parsed and good.verdict == "tie" and "disagree" in good.reason
    bad = JudgeOutcome("judge", [OrderReply("private", "{}", "private", "r1"),
                                 OrderReply("cloud", "nope", None, "")])  # fmt: skip
    assert not bad.parsed and bad.verdict is None and "unparseable" in bad.reason
    assert bad.to_dict()["status"] == "unparseable"


def test_the_ledger_keeps_the_evidence_and_the_judge_apart_from_people(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    first, second = record(
        ledger,
        comparison("How much leave?", [LEAVE, VPN], "27 days [1].", "27 days [1]."),
        comparison("VPN?", [VPN], "QuillonConnect [1].", "No idea.", history_confidential=True),
    )
    ledger.record_judgement(first, "cloud")
    store = JudgeStore(ledger)
    todo = store.candidates("judge-x")
    assert [c.comparison_id for c in todo] == [first, second]
    assert [p.source for p in todo[0].passages or []] == ["hr/leave.md", "it/vpn.md"]
    assert todo[0].passages and todo[0].passages[0].text == LEAVE[2]
    assert todo[0].passages[0].sensitivity == "internal"
    assert not todo[0].history_confidential and todo[1].history_confidential
    replies = [
        OrderReply("private", '{"verdict":"A"}', "private", "ok"),
        OrderReply("cloud", '{"verdict":"B"}', "private", "ok"),
    ]
    outcome = JudgeOutcome("judge-x", replies)
    store.record(first, outcome)
    assert [c.comparison_id for c in store.candidates("judge-x")] == [second]
    assert len(store.candidates("judge-x", again=True)) == 2
    assert len(store.candidates("other-judge")) == 2  # verdicts are per judge model
    assert store.candidates("judge-x", since="2999-01-01") == []
    rows = store.comparison_rows("judge-x")
    assert [(r["human"], r["judge"]) for r in rows] == [("cloud", "private"), (None, None)]
    assert rows[0]["best_source"] == "hr/leave.md"
    assert [j["verdict"] for j in ledger.judgements()] == ["cloud"]  # people's rows unchanged
    (stored,) = store.verdicts()
    assert json.loads(stored["replies"])[1]["first"] == "cloud"


def test_topics_follow_the_configured_depth() -> None:
    assert topic_at_depth("hr/benefits/leave.md", 1) == "hr"
    assert topic_at_depth("hr/benefits/leave.md", 2) == "hr/benefits"
    assert topic_at_depth("welcome.md", 1) == "(root)"
    assert topic_at_depth(None, 1, "hr") == "hr"


def _rated(n: int, human: str | None, judge: str | None, topic: str = "hr") -> list[Rated]:
    return [Rated(i, topic, human, judge) for i in range(n)]


def test_few_human_pairs_count_each_comparison_once_with_wilson() -> None:
    rows = _rated(3, "private", "cloud") + _rated(5, None, "tie") + _rated(2, "cloud", None)
    verdict = group_verdict(rows, 0.05)
    # labels: people's where they rated, else the judge's: 3 wins, 5 ties, 2 losses
    assert (verdict.counts.wins, verdict.counts.ties, verdict.counts.losses) == (3, 5, 2)
    assert (verdict.judgements, verdict.human, verdict.judge) == (10, 5, 8)
    assert verdict.estimate.method == "wilson"
    assert (verdict.estimate.ci_low, verdict.estimate.ci_high) == pytest.approx(
        wilson_interval(8, 10)
    )
    assert verdict.human_only == pytest.approx(wilson_interval(3, 5))


def test_enough_human_pairs_switch_to_prediction_powered_inference() -> None:
    pairs = _rated(8, "private", "private") + _rated(2, "cloud", "tie")
    judge_only = _rated(30, None, "private") + _rated(10, None, "cloud")
    verdict = group_verdict(pairs + judge_only, 0.05)
    expected = ppi_mean([1] * 8 + [0] * 2, [1] * 10, [1] * 30 + [0] * 10)
    assert verdict.estimate.method == "ppi"
    assert verdict.estimate.rate == pytest.approx(expected.estimate)  # 0.75 - 0.2
    assert (verdict.estimate.ci_low, verdict.estimate.ci_high) == pytest.approx(
        (expected.ci_low, expected.ci_high)
    )
    assert verdict.estimate.decision == "not_replaceable"


def test_the_report_json_has_exactly_the_documented_shape() -> None:
    rows = _rated(4, "private", "private") + _rated(3, None, "cloud", "it")
    answers = [
        {"backend": "private", "ttft_s": 1.0, "seconds": 2.0, "at": "2026-12-01T10:00:00+00:00"},
        {"backend": "private", "ttft_s": 3.0, "seconds": 4.0, "at": "2026-12-02T10:00:00+00:00"},
        {"backend": "cloud", "ttft_s": 0.2, "seconds": 1.0, "cost_usd": 0.002,
         "at": "2026-12-01T10:00:00+00:00"},
        {"backend": "cloud", "ttft_s": 0.4, "seconds": 3.0, "cost_usd": 0.004,
         "at": "2026-12-03T10:00:00+00:00"},
    ]  # fmt: skip
    report = build_report(rows, margin=0.05, judge_model="j", answers=answers, comparisons=1,
                          judge_costs=[0.001, 0.002])  # fmt: skip
    data = report.to_json()
    assert list(data) == ["margin", "overall", "topics", "agreement", "cost", "latency"]
    assert list(data["overall"]) == VERDICT_KEYS
    assert [t["topic"] for t in data["topics"]] == ["hr", "it"]
    assert all(list(t) == ["topic", *VERDICT_KEYS] for t in data["topics"])
    assert list(data["agreement"]) == ["both_rated", "agreement", "kappa"]
    assert data["agreement"]["both_rated"] == 4 and data["agreement"]["agreement"] == 1.0
    assert data["overall"]["verdict"] == "not_replaceable" or data["overall"]["more_needed"]
    for topic in data["topics"]:
        assert (topic["more_needed"] is None) == (topic["verdict"] != "not_enough_evidence")
    cost = data["cost"]
    # 4 answers, 1 comparison (2 answers, one question): 3 questions over 2 days
    assert cost["per_answer_usd"] == pytest.approx(0.003)
    assert cost["questions"] == 3 and cost["days"] == 2.0
    assert cost["per_month_usd"] == pytest.approx(round(0.003 * 1.5 * 30, 2))
    assert cost["judge_calls"] == 2 and cost["judge_usd"] == pytest.approx(0.003)
    latency = data["latency"]
    assert latency["private"]["answers"] == 2
    assert latency["private"]["ttft_s"] == {"p50": 2.0, "p95": 2.9}  # numpy: linear
    assert latency["cloud"]["seconds"] == {"p50": 2.0, "p95": 2.9}
