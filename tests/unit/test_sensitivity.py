from __future__ import annotations

import pytest

from ingest.sensitivity import SensitivityError, label_for, matches_any

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("source", "patterns", "expected"),
    [
        ("hr/private/salaries.csv", ["hr/private/**"], True),
        ("hr/private/deep/x.md", ["hr/private/**"], True),
        ("hr/privateer.md", ["hr/private/**"], False),
        ("hr/leave.md", ["hr/private/**"], False),
        ("finance/board-minutes.pdf", ["**/board-*"], True),
        ("board-minutes.pdf", ["**/board-*"], True),
        ("a/b/c.md", ["a/*.md"], False),
        ("a/c.md", ["a/*.md"], True),
        ("HR/Private/x.md", ["hr/private/**"], True),
        ("anything.md", ["", "  "], False),
    ],
)
def test_path_patterns(source: str, patterns: list[str], expected: bool) -> None:
    assert matches_any(source, patterns) is expected


def test_front_matter_label_wins_over_default() -> None:
    assert label_for("x.md", {"sensitivity": "Public"}, confidential_paths=[]) == "public"
    assert label_for("x.md", {}, confidential_paths=[], default="internal") == "internal"


def test_path_rule_only_makes_a_label_stricter() -> None:
    label = label_for(
        "hr/private/x.md", {"sensitivity": "public"}, confidential_paths=["hr/private/**"]
    )
    assert label == "confidential"


def test_unknown_label_is_an_error_not_a_guess() -> None:
    with pytest.raises(SensitivityError, match="unknown sensitivity label 'secret'"):
        label_for("x.md", {"sensitivity": "secret"}, confidential_paths=[])
