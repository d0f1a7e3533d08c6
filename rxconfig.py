"""Reflex configuration; everything else comes from the environment (see workers/config.py)."""

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from workers.config import settings

_settings = settings()


def _app_origins() -> list[str]:
    """The only origins whose pages may open the app's websocket (and call it with CORS): the public
    URL and this port on loopback. Published sites live on other origins (<slug>.localhost:PORT), so a
    site's script cannot drive a signed-in user's session. Reflex passes this list to the Socket.IO
    server, which refuses a handshake whose Origin header is not in it."""
    origins = [_settings.public_url.rstrip("/"), f"http://localhost:{_settings.port}", f"http://127.0.0.1:{_settings.port}"]
    return list(dict.fromkeys(origins))


config = rx.Config(
    app_name="webbuilder_app",
    db_url=_settings.database_url,
    frontend_port=_settings.port,
    backend_port=_settings.port,
    cors_allowed_origins=_app_origins(),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    disable_plugins=[SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
)
