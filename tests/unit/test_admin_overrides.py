"""Per-document labels: stored and audited as run-time overrides, applied by ingestion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.chunking import ChunkingOptions
from ingest.sensitivity import SensitivityError, label_for
from ingest.sync import IngestOptions, _settings_key
from kbchat.audit import audit_for
from kbchat.errors import ConfigError
from kbchat.knowledge import ingest_options
from kbchat.overrides import (
    effective_settings,
    overrides_path,
    read_overrides,
    sensitivity_overrides,
    set_override,
    set_sensitivity_override,
)
from tests.conftest import make_settings

pytestmark = pytest.mark.unit


def test_the_stricter_of_admin_label_and_front_matter_wins_and_a_path_rule_beats_both() -> None:
    rules = ["hr/private/**"]
    front = {"sensitivity": "confidential"}
    assert label_for("a.pdf", {}, confidential_paths=rules, override="public") == "public"
    assert label_for("a.md", front, confidential_paths=rules, override="Public") == "confidential"
    internal = {"sensitivity": "internal"}
    assert label_for("a.md", internal, confidential_paths=rules, override="confidential") == (
        "confidential"
    )
    assert label_for("a.md", {}, confidential_paths=rules, override=None) == "internal"
    private = label_for("hr/private/x.md", {}, confidential_paths=rules, override="public")
    assert private == "confidential"
    with pytest.raises(SensitivityError, match="set by an admin"):
        label_for("a.md", {}, confidential_paths=rules, override="secret")


def test_settings_key_changes_only_for_a_labelled_file() -> None:
    options = IngestOptions(Path("c"), chunking=ChunkingOptions(400, 40))
    plain = _settings_key(options, False, "emb")
    assert _settings_key(options, False, "emb", None) == plain, "unlabelled keys are unchanged"
    assert _settings_key(options, False, "emb", "public") != plain
    assert _settings_key(options, False, "emb", "public") != _settings_key(
        options, False, "emb", "confidential"
    )


def test_labels_are_stored_validated_and_audited(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    set_sensitivity_override(settings, "it/vpn.txt", "Confidential", user="admin")
    set_sensitivity_override(settings, "guide.pdf", "public", user="admin")
    assert sensitivity_overrides(settings) == {"it/vpn.txt": "confidential", "guide.pdf": "public"}
    set_sensitivity_override(settings, "guide.pdf", None, user="admin")
    assert sensitivity_overrides(settings) == {"it/vpn.txt": "confidential"}
    details = [json.loads(e.detail or "{}") for e in audit_for(settings).entries()]
    assert details[0] == {
        "setting": "sensitivity_overrides",
        "source": "guide.pdf",
        "from": "public",
        "to": None,
    }
    assert details[-1]["to"] == "confidential" and details[-1]["from"] is None
    for source, label in (("../x.md", "public"), ("/etc/x.md", "public"), ("a.md", "secret")):
        with pytest.raises(ConfigError):
            set_sensitivity_override(settings, source, label)
    with pytest.raises(ConfigError):
        set_override(settings, "sensitivity_overrides", {"a.md": "top-secret"})


def test_whole_mapping_can_be_set_and_a_bad_stored_entry_fails_closed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    set_override(settings, "sensitivity_overrides", {"a.md": "public"}, user="admin")
    assert sensitivity_overrides(settings) == {"a.md": "public"}
    for source, label in (("../../x.md", "public"), ("b.md", "secret")):
        stored = {"sensitivity_overrides": {"a.md": "public", source: label}}
        overrides_path(settings).write_text(json.dumps(stored))
        assert sensitivity_overrides(settings) == {}
        assert "sensitivity_overrides" in (read_overrides(settings).error or "")


def test_effective_settings_ignore_labels_and_ingest_options_apply_everything(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    set_sensitivity_override(settings, "a.md", "public")
    set_override(settings, "confidential_paths", ["legal/**"])
    effective = effective_settings(settings)
    assert effective.ingest.confidential_paths == ["legal/**"]
    options = ingest_options(settings)
    assert options.confidential_paths == ("legal/**",), "the admin's rule reaches ingestion"
    assert dict(options.sensitivity_overrides) == {"a.md": "public"}
    assert settings.ingest.confidential_paths == ["hr/private/**"], "the original is untouched"
