"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from .migrations import current_revision, head_revision

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(Health):
    database: str
    migration: str | None
    expected_migration: str


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the newest migration."""
    expected = head_revision()
    try:
        revision = await current_revision(request.app.state.engine)
        database = "ok"
    except (SQLAlchemyError, OSError):
        revision, database = None, "unreachable"
    ready = database == "ok" and revision == expected
    body = Readiness(
        status="ready" if ready else "not ready", database=database, migration=revision, expected_migration=expected
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
