"""How a front end loads the settings in force: the one place settings are loaded for use.

`load_settings` reads the environment and ``.env`` (`kbchat.settings.Settings`), moves an index
left at the old default place to the new one (`kbchat.data_layout`), and applies the admin's
run-time changes (`kbchat.overrides`). The CLI calls it once per command, the UI once per page
run, ``kbchat chat`` once per question; everything below receives settings and uses them as
they are. The two places that enforce the admin's changes, the cloud gate (per request) and
ingestion's options (per run), read the admin's file again at that moment, so a change made
after loading holds at once, whoever passed them settings.
"""

from __future__ import annotations

from kbchat.data_layout import migrate_old_layout
from kbchat.overrides import effective_settings
from kbchat.settings import Settings


def load_settings() -> Settings:
    """The settings in force: the environment and ``.env``, with the admin's changes applied.

    Raises:
        pydantic.ValidationError: a setting of the environment does not validate.
        kbchat.data_layout.DataMigrationError: an index at the old default place could not be
            moved to the new one (nothing was moved; the message says what to do).
    """
    settings = Settings()
    migrate_old_layout(settings.paths.index_dir, settings.index.embedding_cache_dir)
    return effective_settings(settings)
