"""The Verdict page, headless (`AppTest`), on a ledger seeded through the ledger's own API."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.verdict import NO_COMPARISONS, NOT_PROVEN
from kbchat.judge import JudgeOutcome, OrderReply
from kbchat.judge_store import JudgeStore
from kbchat.ledger import Ledger, ledger_for
from kbchat.settings import Settings
from kbchat.verdict.report import TITLE
from tests.conftest import make_settings
from tests.fixtures.comparisons import LEAVE, VPN, comparison, record

pytestmark = pytest.mark.integration

APP = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
TIMEOUT_S = 60
JUDGE = "gpt-4o-mini"  # the judge model by default: the cloud model's name


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    config = make_settings(tmp_path)
    config.paths.corpus_dir.mkdir(parents=True)
    monkeypatch.setenv("KBCHAT_INDEX_DIR", str(config.paths.index_dir))
    monkeypatch.setenv("KBCHAT_CORPUS_DIR", str(config.paths.corpus_dir))
    monkeypatch.setenv("KBCHAT_MODELS_DIR", str(config.local.models_dir))
    return config


def _judged(verdict: str) -> JudgeOutcome:
    return JudgeOutcome(JUDGE, [OrderReply("private", "{}", verdict, "why"),
                                OrderReply("cloud", "{}", verdict, "why")])  # fmt: skip


def _seed(ledger: Ledger) -> None:
    """hr: 12 comparisons rated by people and the judge, 30 by the judge alone; it: 3."""
    store = JudgeStore(ledger)
    for i in range(42):
        human = ("private" if i % 6 else "cloud") if i < 12 else None
        judge = "private" if i % 7 else "cloud"
        (cid,) = record(ledger, comparison(f"Leave {i}?", [LEAVE], "27 days [1].", "27 [1]."))
        if human:
            ledger.record_judgement(cid, human)
        store.record(cid, _judged(judge))
    for i in range(3):
        (cid,) = record(ledger, comparison(f"VPN {i}?", [VPN], "Quillon [1].", "Client [1]."))
        ledger.record_judgement(cid, "tie")


def _open() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.switch_page("views/verdict.py").run()
    assert not at.exception, at.exception
    return at


def test_an_empty_ledger_says_where_the_verdict_comes_from(settings: Settings) -> None:
    at = _open()
    assert at.title[0].value == TITLE
    assert NO_COMPARISONS in [i.value for i in at.info]
    assert not at.get("vega_lite_chart")
    # the cloud is off by default: the judge says why it cannot run instead of a button
    assert not at.button or all(b.key != "judge-now" for b in at.button)
    assert any("KBCHAT_CLOUD_ALLOWED" in c.value for c in at.caption)
    assert NOT_PROVEN in [m.value for m in at.markdown]


def test_verdict_per_topic_chart_agreement_cost_and_speed(settings: Settings) -> None:
    _seed(ledger_for(settings))
    at = _open()
    alerts = [*at.success, *at.error, *at.warning]
    assert len(alerts) == 1 and "From 45 judgements (15 by people, 42 by the judge)" in (
        alerts[0].value
    )
    table = at.dataframe[0].value
    assert list(table["Topic"]) == ["All topics", "hr", "it"]
    assert list(table["Judgements"]) == [45, 42, 3]
    assert list(table["By people"]) == [15, 12, 3]
    it = table.set_index("Topic").loc["it"]
    assert it["Verdict"] == "Not enough evidence" and it["More needed"] > 0
    assert it["Ties"] == 3
    # the hr topic combines people and judge (PPI): the page shows how the interval narrowed
    assert any("People alone" in c.value and "as wide" in c.value for c in at.caption)
    assert len(at.get("vega_lite_chart")) == 1
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Rated by both"] == "12"
    assert metrics["ChatGPT per answer"] == "$0.0002"
    speed = at.dataframe[1].value.set_index("Model")
    assert speed.loc["Private model", "Answers"] == 45
    assert speed.loc["ChatGPT", "Total p50 (s)"] == 0.9
