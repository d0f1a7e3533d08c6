"""The FastAPI application holding every /api route; Reflex mounts its own app beneath it."""

from fastapi import FastAPI

from . import auth, builds, errors, integrations, metrics, stream, usage, websites


def create_api() -> FastAPI:
    api = FastAPI(
        title="webbuilder API",
        version="1.0",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    errors.install(api)
    api.include_router(auth.router)
    api.include_router(builds.router)
    api.include_router(websites.router)
    api.include_router(integrations.router)
    api.include_router(stream.router)
    api.include_router(usage.router)
    api.include_router(metrics.router)

    @api.get("/api/health", tags=["meta"])
    def health() -> dict:
        """Answers while the web process is up."""
        return {"status": "ok"}

    return api
