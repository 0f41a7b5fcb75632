"""Reusable sign-in helpers for end-to-end tests: a real OIDC provider on 127.0.0.1
(``oidc-provider-mock``), the ``secrets.toml`` that points Streamlit at it, and `sign_in`,
which goes through the provider's real login form in the browser."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import werkzeug.serving
from playwright.sync_api import Page, expect


@dataclass(frozen=True)
class OidcProvider:
    url: str

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def set_user(self, sub: str, *, email: str, name: str, groups: list[str]) -> None:
        """The claims the provider puts in ``sub``'s ID token."""
        httpx.put(
            f"{self.url}/users/{sub}", json={"email": email, "name": name, "groups": groups}
        ).raise_for_status()


@contextmanager
def oidc_provider() -> Iterator[OidcProvider]:
    """``oidc-provider-mock`` on 127.0.0.1, a free port, in a thread, until the block ends."""
    import oidc_provider_mock

    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain http on loopback
    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield OidcProvider(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()


def write_secrets(folder: Path, provider: OidcProvider) -> Path:
    """A ``secrets.toml`` whose ``[auth]`` section uses ``provider`` (Streamlit fills in
    ``{port}``); give it to the UI with ``STREAMLIT_SECRETS_FILES``."""
    path = folder / "secrets.toml"
    path.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        'client_id = "kbchat"\n'
        'client_secret = "kbchat-test-secret"\n'
        f'server_metadata_url = "{provider.metadata_url}"\n'
        'client_kwargs = { prompt = "login" }\n',
        encoding="utf-8",
    )
    return path


def sign_in(page: Page, url: str, sub: str) -> None:
    """Open the UI, press Sign in, and sign in as ``sub`` on the provider's login form."""
    page.goto(url)
    page.get_by_role("button", name="Sign in").click(timeout=120_000)
    page.locator('input[name="sub"]').fill(sub, timeout=60_000)
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Signed in", timeout=180_000)


def sign_out(page: Page) -> None:
    """Press Sign out, confirm on the provider's end-session form, back at the sign-in page."""
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click(timeout=60_000)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
