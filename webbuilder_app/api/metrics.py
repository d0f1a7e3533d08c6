"""GET /metrics in the Prometheus text format."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from workers.metrics import BuildCollector

router = APIRouter(tags=["meta"])
_registry = CollectorRegistry()
_registry.register(BuildCollector())


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    return Response(generate_latest(_registry), media_type=CONTENT_TYPE_LATEST)
