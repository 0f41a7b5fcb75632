"""The Admin page (the parts are in `app.admin`)."""

from app.admin.page import render_page

render_page()
