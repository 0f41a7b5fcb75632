"""The kbchat UI: ``streamlit run app/main.py`` (``make run``).

Pages are listed in `PAGES`; adding one (Compare, Admin, Quality) is one line there.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

# `streamlit run` puts app/ on sys.path; the pages import `app.…`, so the project root is needed.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app.identity import current_user  # noqa: E402
from app.sidebar import render_sidebar  # noqa: E402

# Not named pages/: Streamlit would treat such a folder as its older multipage mode.
PAGES_DIR = Path(__file__).resolve().parent / "views"
# One line per page. No icons: a page's icon becomes the favicon, which the browser would fetch
# from a CDN (fonts.gstatic.com); without one Streamlit serves its own.
PAGES = [
    st.Page(PAGES_DIR / "chat.py", title="Chat", default=True),
    st.Page(PAGES_DIR / "compare.py", title="Compare", url_path="compare"),
    st.Page(PAGES_DIR / "quality.py", title="Quality", url_path="quality"),
    st.Page(PAGES_DIR / "verdict.py", title="Verdict", url_path="verdict"),
    st.Page(PAGES_DIR / "admin.py", title="Admin"),
]

logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
# Nothing but the sign-in or refusal page (which current_user renders) before the user is known.
if current_user() is None:
    st.stop()
page = st.navigation(PAGES)
# Set once per run, after navigation, for the page about to run (two calls with different
# layouts in one long run left the browser on the first one): side-by-side answers and charts
# need the width.
WIDE = {"compare", "quality", "verdict"}
st.set_page_config(page_title="kbchat", layout="wide" if page.url_path in WIDE else "centered")
render_sidebar()
page.run()
