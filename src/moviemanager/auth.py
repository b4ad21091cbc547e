"""Who may write: the bearer-token guard of every write endpoint, as typed dependencies.

- The admin token (MOVIEMANAGER_ADMIN_TOKEN, or generated on first start into the data
  directory) may write every tenant and the global data.
- A tenant token (`moviemanager token create --tenant T`) may write tenant T only.
- A login token (POST /auth/login, accounts/) writes what its user may: everything for an admin
  user, else the tenants granted to the user.
Missing or wrong token: 401 with `WWW-Authenticate: Bearer`, one body for both; a valid token
that may not write here: 403. Reads need no token.
"""

import logging
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .accounts import service as accounts
from .config import Settings
from .deps import TenantDep, UowDep
from .errors import ErrorBody, Forbidden, NotAuthenticated
from .tokens.service import token_tenant

log = logging.getLogger(__name__)

_bearer = HTTPBearer(
    auto_error=False,
    description="The admin token, a tenant token from `moviemanager token create --tenant T`,"
    " or a login token from POST /auth/login",
)

AUTH_ERRORS = {
    401: {"model": ErrorBody, "description": "No token, or not a valid one (`WWW-Authenticate: Bearer`)"},
    403: {"model": ErrorBody, "description": "A valid token that may not write here (another tenant's)"},
}


@dataclass(frozen=True)
class Writer:
    """The caller allowed to write: `tenant` None for the admin."""

    tenant: str | None


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The presented token; checked before anything else about the request."""
    if credentials is None:
        raise NotAuthenticated()
    return credentials.credentials


BearerDep = Annotated[str, Depends(bearer_token)]


def _is_admin(request: Request, token: str) -> bool:
    admin: str | None = getattr(request.app.state, "admin_token", None)
    # No admin token (the lifespan has not run): nobody is admin, rather than anybody.
    return admin is not None and secrets.compare_digest(token.encode(), admin.encode())


async def tenant_writer(request: Request, token: BearerDep, tenant: TenantDep, uow: UowDep) -> Writer:
    """The admin, or a token of the request's tenant."""
    if _is_admin(request, token):
        return Writer(tenant=None)
    if accounts.is_login_token(token):
        access = await accounts.access(uow, token, tenant)
        if access is None:
            raise NotAuthenticated()
        if access.is_admin:
            return Writer(tenant=None)
        if not access.writes_tenant:
            raise Forbidden(f"User {access.username!r} may not write tenant {tenant!r}")
        return Writer(tenant=tenant)
    allowed = await token_tenant(uow, token)
    if allowed is None:
        raise NotAuthenticated()
    if allowed != tenant:
        raise Forbidden(f"This token may write tenant {allowed!r} only, not {tenant!r}")
    return Writer(tenant=allowed)


async def admin_writer(request: Request, token: BearerDep, uow: UowDep) -> Writer:
    """The admin only: for writes that are not one tenant's (e.g. the category tree)."""
    if _is_admin(request, token):
        return Writer(tenant=None)
    if accounts.is_login_token(token):
        access = await accounts.access(uow, token, None)
        if access is None:
            raise NotAuthenticated()
        if access.is_admin:
            return Writer(tenant=None)
        raise Forbidden(f"This needs an admin; user {access.username!r} may write the tenants granted to it only")
    if await token_tenant(uow, token) is None:
        raise NotAuthenticated()
    raise Forbidden("This needs the admin token; a tenant token may write its own tenant's catalog only")


TenantWriterDep = Annotated[Writer, Depends(tenant_writer)]
AdminDep = Annotated[Writer, Depends(admin_writer)]


def admin_token(settings: Settings) -> str:
    """MOVIEMANAGER_ADMIN_TOKEN, or the one kept in the data directory, made on first start."""
    if settings.admin_token is not None:
        return settings.admin_token.get_secret_value()
    path = settings.admin_token_file
    if not path.exists():
        token = secrets.token_urlsafe(32)
        try:
            created = _create_private_file(path, token)
        except OSError as exc:
            raise RuntimeError(
                f"Cannot save a generated admin token in {path} ({exc.strerror}): "
                "set MOVIEMANAGER_ADMIN_TOKEN, or a writable MOVIEMANAGER_DATA_DIR"
            ) from exc
        if created:
            _announce(token, path)
            return token
    if path.stat().st_mode & 0o077:
        log.warning("%s is readable by other users; chmod 600 it", path)
    log.info("admin token: read from %s (or set MOVIEMANAGER_ADMIN_TOKEN)", path)
    return path.read_text().strip()


def _create_private_file(path: Path, content: str) -> bool:
    """Write `content` to a new file only the owner can read; False if another process was first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(content + "\n")
    try:
        os.link(partial, path)  # atomic, and fails if the file exists: readers never see half a token
        return True
    except FileExistsError:
        return False
    finally:
        partial.unlink()


def _announce(token: str, path: Path) -> None:
    # Printed once, not logged: log lines are shipped and kept, a terminal is not.
    print(
        f"\nGenerated an admin token, saved in {path} (mode 0600):\n\n    {token}\n\n"
        "Send it on writes, e.g.\n"
        f"    curl -X POST -H 'Authorization: Bearer {token}' 'http://127.0.0.1:8000/reload?tenant=movies'\n"
        "Set MOVIEMANAGER_ADMIN_TOKEN to choose your own. "
        "Tenant tokens: moviemanager token create --tenant NAME\n",
        file=sys.stderr,
        flush=True,
    )
