"""The Admin page's parts: sign-in, documents, re-ingest, settings, audit log and ledger."""
