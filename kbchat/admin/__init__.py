"""What the admin page and the admin commands do: sign-in, documents, background ingestion.

The UI (``app/admin``) renders and calls these; nothing here imports Streamlit.
"""
