"""Fetching Llama 2 7B Chat: the resumable downloader behind ``kbchat models pull``.

Plain streaming HTTP from the Hugging Face hub (or ``$HF_ENDPOINT``) into ``<file>.part``;
an interrupted download resumes with a Range request, and the file is checked (announced
size, GGUF magic) before it is renamed into place.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from kbchat.errors import ModelError
from kbchat.llm.gguf import GGUF_MAGIC
from kbchat.settings import LLAMA2_FILE, LLAMA2_REPO

if TYPE_CHECKING:
    import httpx

DEFAULT_ENDPOINT = "https://huggingface.co"


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
