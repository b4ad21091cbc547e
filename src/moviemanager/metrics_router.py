"""GET /metrics: every metric in Prometheus' text format (metrics.py), open or behind its own token.

MOVIEMANAGER_METRICS: `on` (the default) serves it to anyone who can reach the server; `token`
asks for `Authorization: Bearer <MOVIEMANAGER_METRICS_TOKEN>`; `off` leaves the route out (404).
"""

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from .config import Settings
from .metrics import Metrics, exposition

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if settings.metrics == "token" and not _has_token(request, settings):
        return JSONResponse(
            {"detail": "Metrics need the metrics token: send 'Authorization: Bearer <token>'"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    recorder: Metrics = request.app.state.metrics
    recorder.sample()
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


def _has_token(request: Request, settings: Settings) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if expected is None or scheme.lower() != "bearer":
        return False
    return secrets.compare_digest(token.encode(), expected.encode())
