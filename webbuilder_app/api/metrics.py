"""GET /metrics in the Prometheus text format, for an admin's bearer token or a scraper at an address
in WEBBUILDER_METRICS_ALLOW (behind a trusted proxy, the forwarded client's address)."""

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from workers.services import auth, ops

from .auth import Credential, bearer_token, client_of
from .schemas import errors

router = APIRouter(tags=["meta"])
_registry = CollectorRegistry()
_registry.register(ops.BuildCollector())


def _may_read(request: Request, token: str | None) -> None:
    """Raises 401 (no admin token, from an address not allowed) or 403 (a token, not an admin's)."""
    if ops.metrics_open_to(client_of(request)):
        return
    user = auth.user_for_token(token)
    if user is None:
        raise HTTPException(
            401, "Metrics are for admins: send an admin's Authorization: Bearer <token>, or scrape from an "
            "address in WEBBUILDER_METRICS_ALLOW.", headers={"WWW-Authenticate": "Bearer"},
        )
    if not user.is_admin:
        raise HTTPException(403, "Metrics are for admins only.")


@router.get("/metrics", response_class=Response, responses=errors(401, 403))
def metrics(request: Request, credentials: Credential) -> Response:
    _may_read(request, bearer_token(credentials))
    return Response(generate_latest(_registry), media_type=CONTENT_TYPE_LATEST)
