"""The API and the site server in one ASGI app, as webbuilder_app.py wraps them, for uvicorn."""

from webbuilder_app.api.app import create_api
from webbuilder_app.previews import with_previews


def create_app():
    return with_previews(create_api())
