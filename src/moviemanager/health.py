"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from .migrations import current_revision, head_revision
from .read_pool import ReadPool

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Replica(BaseModel):
    name: str
    url: str
    state: str  # ok, lagging, paused, down, not_standby, starting
    lag_seconds: float | None


class Readiness(Health):
    database: str
    migration: str | None
    expected_migration: str
    # The read replicas; one not ok makes no one unready: the primary answers its reads.
    replicas: list[Replica] = []


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the newest migration; each read replica's state
    and lag, for information (the primary answers what a replica cannot)."""
    expected = head_revision()
    try:
        revision = await current_revision(request.app.state.engine)
        database = "ok"
    except (SQLAlchemyError, OSError):
        revision, database = None, "unreachable"
    ready = database == "ok" and revision == expected
    read_pool = getattr(request.app.state, "read_pool", None)
    replicas = read_pool.replica_states() if isinstance(read_pool, ReadPool) else []
    body = Readiness(
        status="ready" if ready else "not ready",
        database=database,
        migration=revision,
        expected_migration=expected,
        replicas=[Replica(**vars(replica)) for replica in replicas],
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
