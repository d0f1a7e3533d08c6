"""The Reflex app: pages, the HTTP API on the same port, published sites on their own origins."""

import reflex as rx
from fastapi import FastAPI

from webbuilder_app.api import auth, builds, errors
from webbuilder_app.pages import auth as auth_pages  # noqa: F401  (registers pages)
from webbuilder_app.pages import index, job  # noqa: F401
from webbuilder_app.previews import with_previews
from webbuilder_app.state.feed import relay_changes

api = FastAPI(title="webbuilder API", version="1.0", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)
errors.install(api)
api.include_router(auth.router)
api.include_router(builds.router)


@api.get("/api/health", tags=["meta"])
def health() -> dict:
    return {"status": "ok"}


app = rx.App(api_transformer=[api, with_previews])
app.register_lifespan_task(relay_changes)
