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
    headers: dict[str, str] | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> dict:
        return {"detail": self.detail}


class NotAuthenticated(DomainError):
    status_code = 401
    # Missing and wrong tokens get the same answer: nothing tells a guess it came close.
    headers = {"WWW-Authenticate": "Bearer"}

    def __init__(self) -> None:
        super().__init__("Writes need a valid token: send 'Authorization: Bearer <token>'")


class Forbidden(DomainError):
    status_code = 403


class LoginRequired(DomainError):
    status_code = 401
    headers = {"WWW-Authenticate": "Bearer"}

    def __init__(self) -> None:
        super().__init__("This needs a login: send 'Authorization: Bearer <token>' with a token from POST /auth/login")


class InvalidCredentials(DomainError):
    status_code = 401
    # Unknown user, wrong password, disabled user: one answer, in the same time (accounts/service.py).
    headers = {"WWW-Authenticate": "Bearer"}

    def __init__(self) -> None:
        super().__init__("Incorrect username or password")


class TooManyLoginAttempts(DomainError):
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed logins for this user or from this address; retry in {retry_after} s")
        self.headers = {"Retry-After": str(retry_after)}


class RegistrationClosed(DomainError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__(
            "Registration is off: an operator creates accounts with"
            " `moviemanager user create NAME --email E --tenant T` (or sets MOVIEMANAGER_ALLOW_REGISTRATION=true)"
        )


class UsernameTaken(DomainError):
    status_code = 409

    def __init__(self, username: str) -> None:
        super().__init__(f"Username {username!r} is taken")


class UserNotFound(DomainError):
    status_code = 404

    def __init__(self, username: str) -> None:
        super().__init__(f"No user {username!r}")


class GrantNotFound(DomainError):
    status_code = 404

    def __init__(self, username: str, tenant: str) -> None:
        super().__init__(f"User {username!r} has no grant for tenant {tenant!r}")


class TokenNotFound(DomainError):
    status_code = 404

    def __init__(self, tenant: str, token_id: str) -> None:
        super().__init__(f"Tenant {tenant!r} has no token {token_id!r}")


class TenantMissing(DomainError):
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


class InvalidCursor(DomainError):
    status_code = 400

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid cursor: {reason}")


class InvalidListing(DomainError):
    """Listing parameters that are each valid but do not go together."""

    status_code = 400


class UnknownParameter(DomainError):
    """A query parameter the endpoint does not take."""

    status_code = 400


class CategoriesBusy(DomainError):
    status_code = 409

    def __init__(self) -> None:
        super().__init__(
            "Reloads are running and the category tree cannot change under them;"
            " nothing was changed. Retry in a moment."
        )


class CategoryNotFound(DomainError):
    status_code = 404

    def __init__(self, category_id: int) -> None:
        super().__init__(f"Category {category_id} not found")


class CategoryConflict(DomainError):
    """The change would break the tree (a cycle, a repeated name, orphaned subcategories)."""

    status_code = 409


class InvalidCategory(DomainError):
    status_code = 422


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


class PoolExhausted(Exception):
    """Every connection of a pool stayed busy for the pool timeout."""


MAX_REPORTED_PROBLEMS = 100
RETRY_AFTER_SECONDS = 1
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout
QUERY_CANCELED = "57014"  # statement_timeout
DEADLOCK_DETECTED = "40P01"  # PostgreSQL chose this transaction to break a deadlock


def sqlstate(exc: Exception) -> str | None:
    """The SQLSTATE of an asyncpg error, raw (the read pool's) or wrapped by SQLAlchemy (which
    puts asyncpg's error on the cause)."""
    orig = getattr(exc, "orig", None)
    return (
        getattr(exc, "sqlstate", None)
        or getattr(orig, "sqlstate", None)
        or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    )


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
    """FastAPI's 422: each error's `type`, location (`loc`) and message, and the input sent
    when it is short text or a number (at most 40 characters)."""

    detail: list[dict[str, Any]]


ECHOED_INPUT_CHARS = 40


def public_validation_error(error: dict[str, Any]) -> dict[str, Any]:
    """One of FastAPI's validation errors without what a client must not get back: long or
    non-text input (an uploaded file, a secret sent in the wrong place), pydantic's context."""
    public = {"type": error["type"], "loc": list(error["loc"]), "msg": error["msg"]}
    value = error.get("input")
    if isinstance(value, str):  # query, header and form values arrive as text
        public["input"] = value if len(value) <= ECHOED_INPUT_CHARS else value[:ECHOED_INPUT_CHARS] + "…"
    return public


# SQLSTATEs that mean "no database right now": connection exceptions (class 08), the server
# shutting down, crashed or starting up (57P01-03), too many connections (53300).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
_CLOSED_MESSAGES = ("connection is closed", "connection was closed", "underlying connection is closed")


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached, rather than that a query is wrong.

    Looks through SQLAlchemy's wrapping (`orig`, `__cause__`): a refused or timed-out connect
    arrives as a bare OSError, a connection lost mid-request as an invalidated DBAPIError, and
    errors of the raw asyncpg connection used for COPY as asyncpg's own classes.
    """
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if getattr(seen, "connection_invalidated", False):
            return True
        if isinstance(seen, (ConnectionError, TimeoutError)) or type(seen).__name__ == "gaierror":
            return True
        if isinstance(seen, OSError) and _raised_while_connecting(seen):
            return True  # e.g. no socket file while a local server restarts: FileNotFoundError
        sqlstate = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        if type(seen).__name__ == "InterfaceError" and str(seen).startswith(_CLOSED_MESSAGES):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _raised_while_connecting(exc: BaseException) -> bool:
    traceback = exc.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename.endswith(("asyncpg/connect_utils.py", "asyncpg/connection.py")):
            return True
        traceback = traceback.tb_next
    return False


def install_error_handlers(app: "FastAPI") -> None:
    import asyncpg
    from fastapi import Request
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    from starlette.exceptions import HTTPException
    from starlette.routing import Match

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
