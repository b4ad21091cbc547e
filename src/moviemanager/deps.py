"""Typed request dependencies shared by the routers.

All `async def`, though none awaits: FastAPI runs a plain `def` dependency in a worker thread,
and the hops cost list endpoints a large share of their throughput.
"""

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from .config import Settings
from .tenancy import TENANT_NAME_PATTERN, chosen_tenant, note_tenant, required_tenant
from .uow import UnitOfWork


async def unit_of_work(request: Request) -> UnitOfWork:
    """An unopened unit of work; the service opens, commits or rolls it back."""
    return UnitOfWork(request.app.state.sessions, replicas=request.app.state.replicas)


async def app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def tenant_name(
    request: Request,
    x_tenant: Annotated[
        str | None, Header(pattern=TENANT_NAME_PATTERN, description="The tenant (catalog) to use", examples=["movies"])
    ] = None,
    tenant: Annotated[
        str | None,
        Query(
            pattern=TENANT_NAME_PATTERN,
            description="The tenant; wins over the X-Tenant header when both are given",
            examples=["movies"],
        ),
    ] = None,
) -> str:
    """The tenant named by the `tenant` parameter or the X-Tenant header (FastAPI checks the pattern)."""
    name = required_tenant(x_tenant, tenant)
    note_tenant(request.scope, name)
    return name


async def optional_tenant_name(
    request: Request,
    x_tenant: Annotated[
        str | None, Header(pattern=TENANT_NAME_PATTERN, description="The tenant (catalog) to use")
    ] = None,
    tenant: Annotated[
        str | None,
        Query(pattern=TENANT_NAME_PATTERN, description="The tenant; wins over the X-Tenant header when both are given"),
    ] = None,
) -> str | None:
    """The tenant named by the `tenant` parameter or the X-Tenant header, if any."""
    name = chosen_tenant(x_tenant, tenant)
    if name is not None:
        note_tenant(request.scope, name)
    return name


SettingsDep = Annotated[Settings, Depends(app_settings)]
UowDep = Annotated[UnitOfWork, Depends(unit_of_work)]
TenantDep = Annotated[str, Depends(tenant_name)]
