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
        ("hr/priv\u0430te/x.md", ["hr/private/**"], True),  # Cyrillic а
        ("hr/\u0440riv\u0430te/x.md", ["hr/private/**"], True),  # Cyrillic р and а
        ("hr/pr\u03b9vate/x.md", ["hr/private/**"], True),  # Greek ι
        ("hr/ｐｒｉｖａｔｅ/x.md", ["hr/private/**"], True),  # full-width
        ("hr/pri\u200bvate/x.md", ["hr/private/**"], True),  # zero-width space
        ("hr/privàte/x.md", ["hr/private/**"], True),  # a combining accent
        ("HR/PRIV\u0410TE/x.md", ["hr/private/**"], True),  # Cyrillic А, upper case
        ("hr/private/x.md", ["hr/priv\u0430te/**"], True),  # a look-alike in the rule
        ("hr/privat\u0435er.md", ["hr/private/**"], False),
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
