"""Domain errors: what a client can act on, each with its HTTP status, and the bodies that
describe them (error_handlers.py maps them to responses, in one place)."""

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel


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
