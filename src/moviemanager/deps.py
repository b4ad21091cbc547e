"""Typed request dependencies shared by the routers.

All `async def`, though none awaits: FastAPI runs a plain `def` dependency in a worker thread,
and the hops cost list endpoints a large share of their throughput.
"""

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from .config import Settings
from .errors import TenantConflict, TenantMissing
from .models import TENANT_NAME_PATTERN
from .movies.cursor import CursorCodec, secret_from
from .uow import UnitOfWork


async def unit_of_work(request: Request) -> UnitOfWork:
    """An unopened unit of work; the service opens, commits or rolls it back."""
    return UnitOfWork(request.app.state.sessions)


async def app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def cursor_codec(request: Request) -> CursorCodec:
    """The app's cursor signer, made on first use (it may create the secret file)."""
    state = request.app.state
    if getattr(state, "cursors", None) is None:
        settings: Settings = state.settings
        configured = settings.cursor_secret.get_secret_value() if settings.cursor_secret else None
        state.cursors = CursorCodec(secret_from(configured, settings.data_dir))
    return state.cursors


async def tenant_name(
    x_tenant: Annotated[
        str | None, Header(pattern=TENANT_NAME_PATTERN, description="The tenant (catalog) to use", examples=["movies"])
    ] = None,
    tenant: Annotated[
        str | None,
        Query(
            pattern=TENANT_NAME_PATTERN,
            description="The tenant, when no X-Tenant header is sent",
            examples=["movies"],
        ),
    ] = None,
) -> str:
    """The tenant named by the X-Tenant header or the `tenant` parameter (FastAPI checks the pattern)."""
    name = optional_tenant_name(x_tenant, tenant)
    if name is None:
        raise TenantMissing("Name the tenant with the X-Tenant header or the tenant query parameter")
    return name


def optional_tenant_name(
    x_tenant: Annotated[
        str | None, Header(pattern=TENANT_NAME_PATTERN, description="The tenant (catalog) to use")
    ] = None,
    tenant: Annotated[
        str | None, Query(pattern=TENANT_NAME_PATTERN, description="The tenant, when no X-Tenant header is sent")
    ] = None,
) -> str | None:
    """The tenant named by the X-Tenant header or the `tenant` parameter, if any."""
    if x_tenant is not None and tenant is not None and x_tenant != tenant:
        raise TenantConflict(f"X-Tenant header {x_tenant!r} and tenant parameter {tenant!r} differ")
    return x_tenant if x_tenant is not None else tenant


SettingsDep = Annotated[Settings, Depends(app_settings)]
UowDep = Annotated[UnitOfWork, Depends(unit_of_work)]
TenantDep = Annotated[str, Depends(tenant_name)]
