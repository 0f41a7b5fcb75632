"""AppTest runs have no ``--server.address``; serve them as ``make run`` does, on loopback.

Without this, ``KBCHAT_AUTH_MODE=none`` would (rightly) refuse every page: Streamlit's default
address is every interface.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit import config


@pytest.fixture(autouse=True)
def loopback_address() -> Iterator[None]:
    before = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    yield
    config.set_option("server.address", before)
