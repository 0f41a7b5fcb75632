"""The Quality page (its parts are in `app.quality`); `app/main.py` runs it."""

from app.quality import render_page

render_page()
