"""`pull_llama2` against a local HTTP server serving a small fake GGUF file, with Range."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kbchat.errors import ModelError
from kbchat.llm.download import pull_llama2
from kbchat.settings import LLAMA2_FILE, LLAMA2_REPO
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.unit


class _QuietServer(ThreadingHTTPServer):
    """Serves each request in a thread; a client that hung up early is not an error here."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


FAKE = b"GGUF" + bytes(range(256)) * 800  # 204,804 bytes
FILE_PATH = f"/{LLAMA2_REPO}/resolve/main/{LLAMA2_FILE}"


@dataclass
class Hub:
    """What the fake hub serves and what it was asked."""

    url: str
    body: bytes = FAKE
    honour_range: bool = True
    cut_after: int | None = None  # announce the full length but send only this many bytes
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:
            hub.requests.append({k.lower(): v for k, v in self.headers.items()})
            if self.path != FILE_PATH:
                self.send_error(404)
                return
            if hub.status != 200:
                self.send_error(hub.status)
                return
            body, start = hub.body, 0
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if match and hub.honour_range:
                start = int(match.group(1))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            part = body[start:]
            self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            self.wfile.write(part if hub.cut_after is None else part[: hub.cut_after])

    return Handler


@pytest.fixture
def hub() -> Iterator[Hub]:
    holder = Hub(url="")
    httpd = _QuietServer(("127.0.0.1", 0), _handler(holder))
    holder.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield holder
    httpd.shutdown()
    httpd.server_close()


def test_download_checks_and_renames(hub: Hub, tmp_path: Path) -> None:
    path = pull_llama2(tmp_path / "models", endpoint=hub.url, progress=False)
    assert path == tmp_path / "models" / LLAMA2_FILE
    assert path.read_bytes() == FAKE
    assert not (tmp_path / "models" / f"{LLAMA2_FILE}.part").exists()
    assert "range" not in hub.requests[0]


def test_resume_from_partial_download(hub: Hub, tmp_path: Path) -> None:
    part = tmp_path / f"{LLAMA2_FILE}.part"
    part.write_bytes(FAKE[:50_000])
    path = pull_llama2(tmp_path, endpoint=hub.url, progress=False)
    assert hub.requests[0]["range"] == "bytes=50000-"
    assert path.read_bytes() == FAKE


def test_server_ignoring_range_starts_over(hub: Hub, tmp_path: Path) -> None:
    hub.honour_range = False
    (tmp_path / f"{LLAMA2_FILE}.part").write_bytes(b"stale bytes")
    assert pull_llama2(tmp_path, endpoint=hub.url, progress=False).read_bytes() == FAKE


def test_complete_part_file_is_finished_without_data(hub: Hub, tmp_path: Path) -> None:
    (tmp_path / f"{LLAMA2_FILE}.part").write_bytes(FAKE)
    assert pull_llama2(tmp_path, endpoint=hub.url, progress=False).read_bytes() == FAKE


def test_part_larger_than_the_file_is_a_size_mismatch(hub: Hub, tmp_path: Path) -> None:
    part = tmp_path / f"{LLAMA2_FILE}.part"
    part.write_bytes(FAKE + b"extra")
    with pytest.raises(ModelError, match=f"but the server announced {len(FAKE)}"):
        pull_llama2(tmp_path, endpoint=hub.url, progress=False)
    assert not part.exists()  # cannot be resumed: removed so the next run starts over
    assert not (tmp_path / LLAMA2_FILE).exists()


def test_broken_off_download_keeps_the_part_for_resuming(hub: Hub, tmp_path: Path) -> None:
    hub.cut_after = 70_000
    with pytest.raises(ModelError, match="broke off after 70000 bytes") as excinfo:
        pull_llama2(tmp_path, endpoint=hub.url, progress=False)
    assert "run `kbchat models pull` again to resume" in str(excinfo.value)
    part = tmp_path / f"{LLAMA2_FILE}.part"
    assert part.read_bytes() == FAKE[:70_000]
    hub.cut_after = None
    assert pull_llama2(tmp_path, endpoint=hub.url, progress=False).read_bytes() == FAKE
    assert hub.requests[-1]["range"] == "bytes=70000-"


def test_not_gguf_is_refused(hub: Hub, tmp_path: Path) -> None:
    hub.body = b"<html>Sign in to continue</html>"
    with pytest.raises(ModelError, match="not a GGUF file"):
        pull_llama2(tmp_path, endpoint=hub.url, progress=False)
    assert not any(tmp_path.iterdir())


def test_http_refusal_asks_for_a_token(hub: Hub, tmp_path: Path) -> None:
    hub.status = 401
    with pytest.raises(ModelError, match="set HF_TOKEN"):
        pull_llama2(tmp_path, endpoint=hub.url, progress=False)


def test_unreachable_hub(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ModelError) as excinfo:
        pull_llama2(tmp_path, endpoint=endpoint, progress=False)
    message = str(excinfo.value)
    assert message.startswith(f"could not reach {endpoint}: ")
    assert "by hand and set KBCHAT_LOCAL_MODEL_PATH" in message


def test_present_file_returns_at_once(tmp_path: Path) -> None:
    (tmp_path / LLAMA2_FILE).write_bytes(FAKE)
    endpoint = f"http://127.0.0.1:{free_port()}"  # would fail if contacted
    assert pull_llama2(tmp_path, endpoint=endpoint) == tmp_path / LLAMA2_FILE


def test_hf_endpoint_and_token_from_environment(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.url + "/")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    pull_llama2(tmp_path, progress=False)
    assert hub.requests[0]["authorization"] == "Bearer hf_secret"


def test_unwritable_models_folder(hub: Hub, tmp_path: Path) -> None:
    blocker = tmp_path / "models"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(ModelError, match="Cannot write"):
        pull_llama2(blocker, endpoint=hub.url, progress=False)
