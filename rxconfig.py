"""Reflex configuration; everything else comes from the environment (see workers/config.py)."""

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from workers.config import settings

_settings = settings()

config = rx.Config(
    app_name="webbuilder_app",
    db_url=_settings.database_url,
    frontend_port=_settings.port,
    backend_port=_settings.port,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    disable_plugins=[SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
)
