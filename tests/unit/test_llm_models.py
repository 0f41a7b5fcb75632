"""Which GGUF file answers, where packaged models live, and refusing files that are not GGUF."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from kbchat.errors import ModelError
from kbchat.llm.base import ChatMessage
from kbchat.llm.factory import build_cloud_backend, build_private_backend
from kbchat.llm.gguf import check_gguf, describe_load_failure, read_gguf_info
from kbchat.llm.llamacpp import LlamaCppBackend
from kbchat.llm.models import list_models, packaged_model, resolve_local_model
from kbchat.llm.openai_compat import NO_KEY_MESSAGE, OpenAICompatBackend
from kbchat.settings import LLAMA2_FILE, CloudSettings, LocalModelSettings, PrivateServerSettings

pytestmark = pytest.mark.unit


def _local(tmp_path: Path, **values: object) -> LocalModelSettings:
    return LocalModelSettings(_env_file=None, **{"models_dir": tmp_path / "models", **values})  # type: ignore[arg-type]


def _server(**values: object) -> PrivateServerSettings:
    return PrivateServerSettings(_env_file=None, **values)  # type: ignore[arg-type]


def _fake_gguf(path: Path, size: int = 4096) -> Path:
    """A file with a valid GGUF v3 header and no tensors (enough for path resolution)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 0)
    path.write_bytes(header + b"\0" * (size - len(header)))
    return path


def test_packaged_smollm2_is_a_gguf_file_in_site_packages() -> None:
    path = packaged_model("smollm2")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "site-packages" in path.parts
    check_gguf(path)
    info = read_gguf_info(path)
    assert info.architecture == "llama" and not info.truncated


def test_configured_file_present_is_used(tmp_path: Path) -> None:
    local = _local(tmp_path)
    _fake_gguf(local.resolved_model_path())
    resolved = resolve_local_model(local)
    assert resolved.path == tmp_path / "models" / LLAMA2_FILE
    assert resolved.chat_format == "llama-2"
    assert resolved.name == "Llama 2 7B Chat"
    assert not resolved.fallback and resolved.notice is None


def test_custom_model_path_and_format_are_used(tmp_path: Path) -> None:
    custom = _fake_gguf(tmp_path / "elsewhere" / "mistral-7b.gguf")
    resolved = resolve_local_model(
        _local(tmp_path, local_model_path=custom, local_chat_format="mistral-instruct")
    )
    assert (resolved.path, resolved.chat_format, resolved.name) == (
        custom,
        "mistral-instruct",
        "mistral-7b",
    )


def test_missing_llama2_falls_back_to_smollm2_with_a_plain_notice(tmp_path: Path) -> None:
    local = _local(tmp_path)
    resolved = resolve_local_model(local)
    assert resolved.fallback
    assert resolved.path == packaged_model("smollm2")
    assert resolved.chat_format == "chatml"
    assert resolved.name == "SmolLM2-135M-Instruct"
    notice = resolved.notice or ""
    assert f"Llama 2 7B Chat is not present at {local.resolved_model_path()}" in notice
    assert "SmolLM2-135M-Instruct" in notice and "much weaker" in notice
    assert "`kbchat models pull`" in notice


def test_list_models_marks_the_one_in_use(tmp_path: Path) -> None:
    local = _local(tmp_path)
    rows = list_models(local)
    assert [r.name for r in rows] == ["Llama 2 7B Chat", "SmolLM2-135M-Instruct"]
    llama2, smol = rows
    assert not llama2.present and llama2.size_bytes is None and not llama2.in_use
    assert smol.present and smol.in_use and smol.fallback and smol.size_bytes
    _fake_gguf(local.resolved_model_path(), size=1000)
    llama2, smol = list_models(local)
    assert llama2.in_use and llama2.size_bytes == 1000 and not smol.in_use


def test_list_models_shows_a_configured_server(tmp_path: Path) -> None:
    rows = list_models(_local(tmp_path), _server(private_base_url="http://127.0.0.1:8999/v1"))
    assert rows[0].url == "http://127.0.0.1:8999/v1" and rows[0].in_use
    assert not any(r.in_use for r in rows[1:])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<html><body>Access denied</body></html>" * 10, "not a GGUF file"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1\n", "LFS"),
        (b"GGUF" + struct.pack("<I", 1) + b"\0" * 40, "GGUF version 1"),
        (b"GG", "not a GGUF file"),
    ],
)
def test_check_gguf_refuses_junk_naming_file_and_reason(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    junk = tmp_path / "model.gguf"
    junk.write_bytes(content)
    with pytest.raises(ModelError) as excinfo:
        check_gguf(junk)
    assert str(junk) in str(excinfo.value) and reason in str(excinfo.value)


def test_check_gguf_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        check_gguf(tmp_path / "nope.gguf")


def test_backend_on_junk_file_raises_model_error_before_llama_cpp(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"\x7fELF" + b"\0" * 1000)
    backend = LlamaCppBackend(
        junk, chat_format="chatml", n_ctx=512, n_threads=1, n_gpu_layers=0, display_name="junk"
    )
    with pytest.raises(ModelError, match="not a GGUF file"):
        backend.count_messages([ChatMessage("user", "hi")])
    with pytest.raises(ModelError, match=str(junk)):
        backend.stream_chat([ChatMessage("user", "hi")], max_tokens=4, temperature=0)


def test_damaged_header_is_explained(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**40, 2**40) + b"\0" * 100)
    check_gguf(damaged)  # the magic and version are fine
    assert "damaged" in describe_load_failure(damaged)


def test_truncated_copy_is_explained(tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with packaged_model("smollm2").open("rb") as src:
        cut.write_bytes(src.read(20_000_000))
    assert "cut short" in describe_load_failure(cut)


def test_private_backend_is_llama_cpp_on_the_resolved_model(tmp_path: Path) -> None:
    backend, resolved = build_private_backend(_local(tmp_path, local_n_ctx=1024, local_n_threads=1))
    assert isinstance(backend, LlamaCppBackend)
    assert resolved is not None and resolved.fallback
    assert backend.model_name == "SmolLM2-135M-Instruct"
    assert backend.context_window == 1024
    again, _ = build_private_backend(_local(tmp_path, local_n_ctx=1024, local_n_threads=1))
    assert isinstance(again, LlamaCppBackend) and again.shared is backend.shared


def test_private_backend_is_the_company_server_when_configured(tmp_path: Path) -> None:
    backend, resolved = build_private_backend(
        _local(tmp_path),
        server=_server(private_base_url="http://127.0.0.1:9/v1", private_model="llama2-7b"),
    )
    assert isinstance(backend, OpenAICompatBackend)
    assert resolved is None
    assert backend.model_name == "llama2-7b" and backend.base_url == "http://127.0.0.1:9/v1"


def test_cloud_backend_without_key_says_how_to_fix_it() -> None:
    backend = build_cloud_backend(CloudSettings(_env_file=None))
    with pytest.raises(ModelError) as excinfo:
        backend.stream_chat([ChatMessage("user", "hi")], max_tokens=4, temperature=0)
    assert str(excinfo.value) == NO_KEY_MESSAGE
