"""The Quality page, headless (`AppTest`), on a ledger seeded through the ledger's own API."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from app.quality import NO_ANSWERS, NO_JUDGEMENTS
from kbchat.admin import auth
from kbchat.admin.auth import hash_password
from kbchat.answering.prompt import Passage
from kbchat.answering.service import Answer, Retrieval
from kbchat.compare import Comparison
from kbchat.ledger import Ledger, ledger_for
from kbchat.llm.base import GenerationStats
from kbchat.settings import Settings
from tests.conftest import make_settings
from vectorstore.records import SearchHit

pytestmark = pytest.mark.integration

APP = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
TIMEOUT_S = 60
CHARTS = "vega_lite_chart"
PASSWORD = "a long admin password"
ANSWER_TEXT = "=HYPERLINK(1)"  # what every seeded answer says


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """An empty index folder (the ledger lives there); the app points at it, with an admin
    password."""
    config = make_settings(tmp_path)
    config.paths.corpus_dir.mkdir(parents=True)
    monkeypatch.setenv("KBCHAT_ADMIN_PASSWORD_HASH", hash_password(PASSWORD, n=2**10))
    auth.THROTTLE.succeeded()
    monkeypatch.setenv("KBCHAT_INDEX_DIR", str(config.paths.index_dir))
    monkeypatch.setenv("KBCHAT_CORPUS_DIR", str(config.paths.corpus_dir))
    monkeypatch.setenv("KBCHAT_MODELS_DIR", str(config.local.models_dir))
    yield config
    auth.THROTTLE.succeeded()


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """What each download button would serve, by file name."""
    served: dict[str, bytes] = {}
    real_add = MediaFileManager.add

    def spy(self: MediaFileManager, data: Any, *args: Any, **kwargs: Any) -> str:
        if kwargs.get("file_name"):
            served[kwargs["file_name"]] = data
        return real_add(self, data, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", spy)
    return served


def _answer(backend: str, model: str, seconds: float, grounded: float | None) -> Answer:
    stats = GenerationStats(model, 400, 30, seconds / 4, seconds, 0.0)
    cost = 0.0001 if backend == "cloud" else None
    return Answer(
        backend, model, "=HYPERLINK(1)", stats=stats, groundedness=grounded, cost_usd=cost
    )  # type: ignore[arg-type]


def _comparison(question: str, source: str, private_s: float, cloud_s: float) -> Comparison:
    hit = SearchHit("chunk-1", "Everyone gets 27 days.", {"source": source}, 1.0, 1, 1, 0.9)
    retrieval = Retrieval(question, [Passage(1, hit)], True, 0.01)
    return Comparison(
        question,
        retrieval,
        private=_answer("private", "SmolLM2-135M-Instruct", private_s, 0.5),
        cloud=_answer("cloud", "gpt-4o-mini", cloud_s, 1.0),
        agreement=0.7,
        wall_s=max(private_s, cloud_s),
    )


def _seed(ledger: Ledger) -> None:
    """Three judged comparisons (hr, hr, it), one unjudged, and two rated chat answers."""
    for question, source, verdict in (
        ("Leave days?", "hr/leave.md", "cloud"),
        ("Carry over?", "hr/leave.md", "private"),
        ("VPN client?", "it/vpn.txt", "tie"),
    ):
        cid = ledger.record_comparison(_comparison(question, source, 6.0, 1.5), session="s1")
        ledger.record_judgement(cid, verdict, f"about {question}")
    ledger.record_comparison(_comparison("Unjudged?", "it/vpn.txt", 3.0, 1.0))
    up = ledger.record_answer("Printer?", _answer("private", "SmolLM2-135M-Instruct", 2.0, None))
    down = ledger.record_answer("Laptop?", _answer("cloud", "gpt-4o-mini", 1.0, 0.0))
    ledger.record_feedback(up, 1)
    ledger.record_feedback(down, -1)


def _open() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.switch_page("views/quality.py").run()
    assert not at.exception, at.exception
    return at


def _signed_in(at: AppTest) -> AppTest:
    at.text_input(key="admin-password").set_value(PASSWORD)
    [button] = [b for b in at.button if b.label == "Sign in"]
    button.click().run()
    assert not at.exception, at.exception
    return at


def _labels(at: AppTest) -> list[str]:
    return [b.label for b in at.get("download_button")]


def _csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_empty_ledger_says_where_the_figures_come_from(
    settings: Settings, downloads: dict[str, bytes]
) -> None:
    at = _open()
    infos = [i.value for i in at.info]
    assert NO_JUDGEMENTS in infos and NO_ANSWERS in infos
    assert NO_JUDGEMENTS.startswith("No judgements yet: use the Compare page")
    assert not at.get(CHARTS) and not at.main.metric
    at = _signed_in(at)
    buttons = at.get("download_button")
    assert [b.label for b in buttons] == ["Judgements (CSV)", "Answers (CSV)"]
    assert all(b.proto.disabled for b in buttons)


def test_rates_charts_thumbs_and_csv_exports(
    settings: Settings, downloads: dict[str, bytes]
) -> None:
    _seed(ledger_for(settings))
    at = _signed_in(_open())
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Judged"] == "3"
    assert metrics["Private better"] == "33%" and metrics["ChatGPT better"] == "33%"
    assert metrics["Tie"] == "33%" and metrics["Both wrong"] == "0%"
    assert {s.value for s in at.subheader} >= {
        "Win rates over time",
        "Win rates by topic",
        "Groundedness per model",
        "Latency per model",
        "Thumbs from the chat",
    }
    # over time, by topic, groundedness, total time, first token, median latency per day
    assert len(at.get(CHARTS)) == 6

    topics, thumbs = (d.value for d in at.dataframe)
    assert list(topics["Topic"]) == ["hr", "it"]
    assert list(topics["Judged"]) == [2, 1] and list(topics["ChatGPT win rate"]) == [50.0, 0.0]
    by_model = thumbs.set_index("Model")
    assert by_model.loc["SmolLM2-135M-Instruct (private)", "Thumbs up"] == 1
    assert by_model.loc["gpt-4o-mini (ChatGPT)", "Thumbs down"] == 1

    judgements = _csv(downloads["kbchat-judgements.csv"])
    assert [row["verdict"] for row in judgements] == ["cloud", "private", "tie"]
    assert judgements[0]["question"] == "Leave days?" and judgements[0]["topic"] == "hr"
    answers = _csv(downloads["kbchat-answers.csv"])
    assert len(answers) == 10  # 4 comparisons x 2 answers + 2 chat answers
    assert {row["backend"] for row in answers} == {"private", "cloud"}
    assert {row["answer"] for row in answers} == {"'=HYPERLINK(1)"}  # no formula runs
    rated = {row["question"]: row["rating"] for row in answers if row["rating"]}
    assert rated == {"Printer?": "1", "Laptop?": "-1"}
    caption = " ".join(c.value for c in at.caption)
    assert re.search(r"latest 10 recorded answers", caption)
