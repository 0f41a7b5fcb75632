"""The Compare page (its parts are in `app.compare`); `app/main.py` runs it."""

from app.compare import render_page

render_page()
