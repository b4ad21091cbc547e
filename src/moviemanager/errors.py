"""Domain errors, and the one place that turns them into HTTP responses."""

import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:  # FastAPI is imported when the handlers are installed: parser processes never need it
    from fastapi import FastAPI

log = logging.getLogger(__name__)


class DomainError(Exception):
    """An error the client can act on; `status_code` says which HTTP status it maps to."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> dict:
        return {"detail": self.detail}


class TenantMissing(DomainError):
    status_code = 400


class TenantConflict(DomainError):
    status_code = 400


class TenantNotFound(DomainError):
    status_code = 404

    def __init__(self, tenant: str) -> None:
        super().__init__(f"Tenant {tenant!r} not found")


class MovieNotFound(DomainError):
    status_code = 404

    def __init__(self) -> None:
        super().__init__("Movie not found")


class NoDefaultCsv(DomainError):
    status_code = 404

    def __init__(self, tenant: str) -> None:
        super().__init__(f"Tenant {tenant!r} has no default CSV; upload one as the multipart field 'file'")


class CatalogBusy(DomainError):
    status_code = 409

    def __init__(self, tenant: str) -> None:
        super().__init__(
            f"The catalogs are busy (long reads are running); tenant {tenant!r} was not changed. Retry in a moment."
        )


class TenantBusy(DomainError):
    status_code = 409

    def __init__(self, tenant: str) -> None:
        super().__init__(
            f"Another reload of tenant {tenant!r} is still running; this one was not started. Retry when it is done."
        )


class ShrinkRefused(DomainError):
    status_code = 422


class UnsupportedMediaType(DomainError):
    status_code = 415


class InvalidUpload(DomainError):
    status_code = 422


@dataclass(frozen=True)
class CsvProblem:
    """One thing wrong with an uploaded CSV, located for a person to fix."""

    line: int
    column: str | None
    value: str | None
    reason: str


class FileProblem(CsvProblem):
    """The file itself is damaged (header, quoting): nothing after this point can be read."""


@dataclass(frozen=True)
class CsvWarning:
    """Something read from a CSV that may not mean what the file intended; the row is kept."""

    line: int
    column: str | None
    value: str | None
    reason: str


MAX_REPORTED_PROBLEMS = 100
RETRY_AFTER_SECONDS = 1
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout
QUERY_CANCELED = "57014"  # statement_timeout


def sqlstate(exc: Exception) -> str | None:
    """The SQLSTATE of a database error wrapped by SQLAlchemy (asyncpg puts it on the cause)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)


class InvalidCsv(DomainError):
    status_code = 422

    def __init__(self, problems: list[CsvProblem], total: int | None = None) -> None:
        self.problems = problems[:MAX_REPORTED_PROBLEMS]
        self.total = total if total is not None else len(problems)
        first = problems[0]
        where = f"line {first.line}" + (f", column {first.column!r}" if first.column else "")
        more = f" (and {self.total - 1} more problem{'s' * (self.total > 2)})" if self.total > 1 else ""
        super().__init__(f"Invalid CSV: {where}: {first.reason}{more}. Nothing was changed.")

    def __reduce__(self):  # travels from the parser process
        return InvalidCsv, (self.problems, self.total)

    def body(self) -> dict:
        return {
            "detail": self.detail,
            "error_count": self.total,
            "errors": [asdict(problem) for problem in self.problems],
        }


class ErrorBody(BaseModel):
    detail: str


class CsvProblemBody(BaseModel):
    line: int
    column: str | None
    value: str | None
    reason: str


class CsvErrorBody(ErrorBody):
    error_count: int
    errors: list[CsvProblemBody]


class RequestValidationErrorBody(BaseModel):
    """FastAPI's own 422: each error's location (`loc`), message and the input sent."""

    detail: list[dict[str, Any]]


def install_error_handlers(app: "FastAPI") -> None:
    from fastapi import Request
    from fastapi.responses import JSONResponse
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code)

    @app.exception_handler(PoolTimeout)
    async def pool_exhausted(request: Request, exc: PoolTimeout) -> JSONResponse:
        # Every connection stayed busy for the pool timeout: a moment of overload, not a bug.
        log.warning("no database connection free within the pool timeout on %s %s", request.method, request.url.path)
        detail = "The service is busy: no database connection came free in time. Retry in a moment."
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if sqlstate(exc) in (LOCK_NOT_AVAILABLE, QUERY_CANCELED):
            # A lock or statement timeout of the transaction (db.ScopedSession): overload, not a bug.
            log.warning("lock or statement timeout on %s %s", request.method, request.url.path)
            detail = "The service is busy: the database did not answer in time. Retry in a moment."
            return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        return await unexpected_error(request, exc)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # Never leak internals (SQL, paths, DSNs) to the client; the log has the traceback.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Internal server error"}, status_code=500)
