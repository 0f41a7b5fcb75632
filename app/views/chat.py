"""The Chat page (its parts are in `app.chat`); `app/main.py` runs it."""

from app.chat import render_page

render_page()
