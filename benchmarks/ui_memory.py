"""Peak memory of the UI process once the private model has loaded and answered a question.

Ingests ``docs_corpus`` into a temporary index, starts the real UI as ``make run`` does
(``python -m streamlit run app/main.py`` on 127.0.0.1, a free port, headless), opens it in
Debian's Chromium through Playwright and asks one question in the chat page, so that the
embedder, the index and the private model load in the UI process and the model answers there.
When the answer is finished (its timing line shows), reads the UI server's peak resident set
(``VmHWM`` in ``/proc/<pid>/status``) and its current one (``VmRSS``). The process measured is
the one listening on the UI's port, so a wrapper or launcher never stands in for it. Also
prints the RSS after the page first loaded (before the question) and the GGUF file's size.

The model is the configured private model (``KBCHAT_LOCAL_MODEL_PATH`` or Llama 2 7B Chat under
``KBCHAT_MODELS_DIR``) when its file is present, else the packaged SmolLM2 stand-in, with the
configured context window (``KBCHAT_LOCAL_N_CTX``: the KV cache grows with it) and embedding
backend (``KBCHAT_EMBEDDING_BACKEND``: torch alone takes hundreds of MiB). Needs
``/usr/bin/chromium`` (``apt-get install chromium``).

Usage: python benchmarks/ui_memory.py [--timeout 900]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import report  # noqa: E402
from kbchat.llm.models import resolve_local_model  # noqa: E402
from kbchat.settings import Settings  # noqa: E402
from tests.fixtures.browser import CHROMIUM, chromium  # noqa: E402
from tests.fixtures.streamlit_server import APP, app_env, ingest, start_streamlit  # noqa: E402

QUESTION = "How many days of annual leave do I get?"
TIMING = "first token"  # the timing line under a finished answer (app/render.py)


def listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on ``port`` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(inode)
    return inodes


def descendants(pid: int) -> list[int]:
    """The processes started, directly or not, by ``pid``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text(encoding="utf-8")
        except OSError:  # gone meanwhile
            continue
        for line in status.splitlines():
            if line.startswith("PPid:"):
                parents[int(entry.name)] = int(line.split()[1])
                break
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def server_pid(port: int) -> int:
    """The process this one started that listens on ``port``: the Streamlit server itself.

    Raises:
        RuntimeError: no child process listens on the port.
    """
    sockets = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    for pid in descendants(os.getpid()):
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in sockets:
                    return pid
            except OSError:
                continue
    raise RuntimeError(f"no process started here listens on port {port}")


def memory_kib(pid: int) -> dict[str, int]:
    """``VmHWM`` (peak resident set) and ``VmRSS`` (current) of ``pid``, in KiB."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            figures[key] = int(value.split()[0])
    return figures


@dataclass(frozen=True)
class Asked:
    """One question asked in the browser, and the server's memory before it."""

    before_kib: dict[str, int]  # `memory_kib` once the chat page had loaded
    seconds: float  # from sending the question to the finished answer
    timing: str  # the answer's timing line


def ask_in_browser(url: str, pid: int, timeout_s: float) -> Asked:
    """Open the chat page, note the server's memory, ask `QUESTION`, wait for the answer.

    Args:
        url: the UI.
        pid: the UI server process.
        timeout_s: longest wait for the page, and for the answer.

    Raises:
        RuntimeError: the UI shows an error, or the answer did not finish within ``timeout_s``
            (with what the page shows).
    """
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        box = page.get_by_test_id("stChatInputTextArea")
        box.wait_for(timeout=timeout_s * 1000)  # the first run loads the embedder
        before = memory_kib(pid)
        box.fill(QUESTION)
        sent = time.monotonic()
        box.press("Enter")
        messages = page.get_by_test_id("stChatMessage")
        # An error box (st.error) or a traceback: the answer will not come.
        errors = page.locator('[data-testid="stAlertContentError"], [data-testid="stException"]')
        deadline = sent + timeout_s
        while messages.count() < 2 or TIMING not in messages.nth(1).inner_text():
            if errors.count():
                raise RuntimeError(f"the UI shows an error: {errors.first.inner_text()}")
            if time.monotonic() > deadline:
                shown = messages.last.inner_text() if messages.count() else page.inner_text("body")
                raise RuntimeError(f"no finished answer within {timeout_s:.0f} s; page: {shown}")
            time.sleep(0.25)
        answered = time.monotonic() - sent
        timing = messages.nth(1).get_by_test_id("stCaptionContainer").filter(has_text=TIMING)
        return Asked(before, answered, timing.first.inner_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=900, help="longest wait per step, s")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(
            f"ui_memory needs Chromium at {CHROMIUM} to drive the UI: "
            "sudo apt-get install chromium (make test installs it when run as root)"
        )
    configured = Settings()
    local = configured.local
    resolved = resolve_local_model(local)
    embedder = configured.index.embedding_backend
    settings = {
        "EMBEDDING_BACKEND": embedder,
        "LOCAL_N_CTX": str(local.local_n_ctx),
        # One llama.cpp thread: the browser and the server share the machine's cores.
        "LOCAL_N_THREADS": "1",
        "MAX_ANSWER_TOKENS": "96",
    }
    if not resolved.fallback:  # otherwise the UI falls back to the stand-in by itself
        settings.update(LOCAL_MODEL_PATH=str(resolved.path), LOCAL_CHAT_FORMAT=resolved.chat_format)
    model_gib = resolved.path.stat().st_size / 2**30
    model = f"{resolved.name}{' stand-in' if resolved.fallback else ''}"
    print(
        f"model: {resolved.name} ({resolved.path}, {model_gib:.2f} GiB), n_ctx "
        f"{local.local_n_ctx}; embedder backend {embedder}"
    )

    with tempfile.TemporaryDirectory(prefix="kbchat-ui-memory-") as tmp:
        env = app_env(Path(tmp), settings=settings)
        ingest(env)
        with start_streamlit(APP, env, timeout_s=args.timeout) as url:
            pid = server_pid(urlsplit(url).port or 0)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            print(f"UI at {url}, server process {pid}: {cmdline.strip()}")
            asked = ask_in_browser(url, pid, args.timeout)
            after = memory_kib(pid)

    peak_mib, rss_mib = after["VmHWM"] / 1024, after["VmRSS"] / 1024
    before_mib = asked.before_kib["VmRSS"] / 1024
    print(f"answered in {asked.seconds:.1f} s ({asked.timing})")
    print(f"UI process RSS after the page loaded, before the question: {before_mib:7.0f} MiB")
    print(f"UI process RSS after the answer:                          {rss_mib:7.0f} MiB")
    print(f"UI process peak RSS (VmHWM):                              {peak_mib:7.0f} MiB")
    print(f"model file: {model_gib:.2f} GiB")
    report(
        "memory",
        "UI process peak RSS, model loaded",
        f"{peak_mib:.0f} MiB",
        f"after one answer in the browser; RSS {rss_mib:.0f} MiB after it, {before_mib:.0f} MiB "
        f"before the question; model file {model_gib:.2f} GiB ({model}), "
        f"n_ctx {local.local_n_ctx}; embedder {embedder}",
    )


if __name__ == "__main__":
    main()
