"""Item 5 of issue 10: the Quality page's per-answer export is for a signed-in admin only.

Checked in what the page serves (every download button's file) and renders, headless.
"""

from __future__ import annotations

import pytest

from kbchat.ledger import ledger_for
from kbchat.settings import Settings
from tests.app.test_quality_page import (  # noqa: F401 - downloads, settings: its fixtures
    _csv,
    _labels,
    _open,
    _seed,
    _signed_in,
    downloads,
    settings,
)

pytestmark = [pytest.mark.security, pytest.mark.integration]


def test_without_admin_sign_in_only_aggregate_figures_can_be_read(
    settings: Settings,  # noqa: F811 - the fixture
    downloads: dict[str, bytes],  # noqa: F811 - the fixture
) -> None:
    """Every user's questions and answers (answers may repeat confidential documents) are
    for a signed-in admin only; everyone else sees and downloads aggregate figures."""
    _seed(ledger_for(settings))
    at = _open()
    assert {m.label: m.value for m in at.main.metric}["Judged"] == "3"
    assert _labels(at) == ["Win rates by topic (CSV)"]
    assert any("only a signed-in admin" in c.value for c in at.caption)
    assert set(downloads) == {"kbchat-win-rates-by-topic.csv"}
    served = b"".join(downloads.values()).decode("utf-8")
    for text in ("Leave days?", "Printer?", "about Leave days?", "HYPERLINK"):
        assert text not in served
    page = str(at.main)
    assert "HYPERLINK" not in page and "Printer?" not in page
    assert [row["Topic"] for row in _csv(downloads["kbchat-win-rates-by-topic.csv"])] == [
        "hr",
        "it",
    ]

    at.text_input(key="admin-password").set_value("not the password")
    [button] = [b for b in at.button if b.label == "Sign in"]
    button.click().run()
    assert _labels(at) == ["Win rates by topic (CSV)"]

    at = _signed_in(at)
    assert _labels(at) == ["Judgements (CSV)", "Answers (CSV)"]
    answers = _csv(downloads["kbchat-answers.csv"])
    assert {row["question"] for row in answers} >= {"Leave days?", "Printer?"}
