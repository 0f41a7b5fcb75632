from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kbchat.settings import LLAMA2_FILE, CloudSettings, IngestSettings, LocalModelSettings, Settings

pytestmark = pytest.mark.unit


def test_defaults_are_sensible(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = Settings()
    assert settings.paths.corpus_dir == Path("docs_corpus")
    assert settings.paths.index_dir == Path("data/index")
    assert settings.ingest.confidential_paths == ["hr/private/**"]
    assert settings.cloud.cloud_allowed is False
    assert settings.local.resolved_model_path() == Path("models") / LLAMA2_FILE


def test_flat_environment_names_fill_the_sections(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KBCHAT_CORPUS_DIR", "/data/kb")
    monkeypatch.setenv("KBCHAT_CONFIDENTIAL_PATHS", "hr/private/**, legal/**")
    monkeypatch.setenv("KBCHAT_CHUNK_SIZE", "600")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    settings = Settings()
    assert settings.paths.corpus_dir == Path("/data/kb")
    assert settings.ingest.confidential_paths == ["hr/private/**", "legal/**"]
    assert settings.ingest.chunk_size == 600
    key = settings.cloud.openai_api_key
    assert key is not None and key.get_secret_value() == "sk-test-123"
    assert "sk-test-123" not in repr(settings) and "sk-test-123" not in str(settings.cloud)


def test_dot_env_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("KBCHAT_CLOUD_ALLOWED=true\nKBCHAT_LOCAL_N_CTX=2048\n")
    assert CloudSettings().cloud_allowed is True
    assert LocalModelSettings().local_n_ctx == 2048


def test_bad_values_are_rejected_with_the_field_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBCHAT_CHUNK_SIZE", "lots")
    with pytest.raises(ValidationError, match="chunk_size"):
        IngestSettings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("KBCHAT_CHUNK_SIZE", "200")
    monkeypatch.setenv("KBCHAT_CHUNK_OVERLAP", "300")
    with pytest.raises(ValidationError, match="KBCHAT_CHUNK_OVERLAP must be smaller"):
        IngestSettings(_env_file=None)  # type: ignore[call-arg]


def test_env_example_documents_every_setting() -> None:
    from tests.conftest import ROOT

    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = {
        line.split("=", 1)[0] for line in example.splitlines() if "=" in line and line[0] != "#"
    }
    expected = set()
    for section in Settings.model_fields.values():
        assert section.annotation is not None
        for name, field in section.annotation.model_fields.items():
            alias = field.validation_alias
            expected.add(alias.choices[0] if alias is not None else f"KBCHAT_{name.upper()}")  # type: ignore[union-attr]
            assert field.description, f"{name} has no description"
    assert documented == expected


def test_env_example_values_are_valid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.conftest import ROOT

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text(encoding="utf-8"))
    settings = Settings()
    assert settings.index.chroma_host is None
    assert settings.local.local_n_threads is None
    assert settings.ingest.confidential_paths == ["hr/private/**"]
