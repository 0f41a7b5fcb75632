"""The Verdict page (its parts are in `app.verdict`); `app/main.py` runs it."""

from app.verdict import render_page

render_page()
