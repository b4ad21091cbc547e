"""The one place that turns errors into HTTP responses: domain errors into their JSON 4xx,
FastAPI's validation errors into a 422 without what a client must not get back, a database that is
unavailable or busy into a 503 to retry, and anything else into a 500 that leaks nothing."""

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.routing import Match

from .database_errors import DEADLOCK_DETECTED, LOCK_NOT_AVAILABLE, QUERY_CANCELED, database_unavailable, sqlstate
from .errors import DomainError, PoolExhausted

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
ECHOED_INPUT_CHARS = 40


def public_validation_error(error: dict[str, Any]) -> dict[str, Any]:
    """One of FastAPI's validation errors without what a client must not get back: long or
    non-text input (an uploaded file, a secret sent in the wrong place), pydantic's context."""
    public = {"type": error["type"], "loc": list(error["loc"]), "msg": error["msg"]}
    value = error.get("input")
    if isinstance(value, str):  # query, header and form values arrive as text
        public["input"] = value if len(value) <= ECHOED_INPUT_CHARS else value[:ECHOED_INPUT_CHARS] + "…"
    return public


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": [public_validation_error(error) for error in exc.errors()]}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 405:
            # Starlette's Allow names the first route on the path only; routers share paths
            # (GET /categories, and POST /categories on the admin router).
            allowed = set()
            for route in app.router.routes:
                if route.matches(request.scope)[0] is not Match.NONE:
                    allowed |= getattr(route, "methods", None) or set()
            exc = HTTPException(405, exc.detail, headers={"Allow": ", ".join(sorted(allowed))})
        return await http_exception_handler(request, exc)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    async def pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
        # Every connection stayed busy for the pool timeout: a moment of overload, not a bug.
        log.warning("no database connection free within the pool timeout on %s %s", request.method, request.url.path)
        detail = "The service is busy: no database connection came free in time. Retry in a moment."
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    app.add_exception_handler(PoolTimeout, pool_exhausted)
    app.add_exception_handler(PoolExhausted, pool_exhausted)

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc):
            # Refused, restarting, or lost mid-request: the pool drops the dead connection and
            # pre-ping tests the others, so the next request reconnects once the server is back.
            log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
            detail = "The database is unavailable right now. Retry in a moment."
            return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        if sqlstate(exc) in (LOCK_NOT_AVAILABLE, QUERY_CANCELED, DEADLOCK_DETECTED):
            # A lock or statement timeout of the transaction (db.ScopedSession), or a deadlock with
            # a reload's swap that PostgreSQL broke by cancelling this one: contention, not a bug.
            log.warning("lock timeout, statement timeout or deadlock on %s %s", request.method, request.url.path)
            detail = "The service is busy: the database did not answer in time. Retry in a moment."
            return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        # Never leak internals (SQL, paths, DSNs) to the client; the log has the traceback.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Internal server error"}, status_code=500)

    # Handled inside the middleware stack (so CORS headers are added) for the classes a
    # database failure raises; anything else still reaches the outermost catch-all.
    for database_error in (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        app.add_exception_handler(database_error, server_error)
    app.add_exception_handler(Exception, server_error)
