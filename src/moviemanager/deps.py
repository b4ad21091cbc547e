"""Typed request dependencies shared by the routers."""

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from .config import Settings
from .errors import TenantConflict, TenantMissing
from .models import TENANT_NAME_PATTERN
from .uow import UnitOfWork


def unit_of_work(request: Request) -> UnitOfWork:
    """An unopened unit of work; the service opens, commits or rolls it back."""
    return UnitOfWork(request.app.state.sessions)


def app_settings(request: Request) -> Settings:
    return request.app.state.settings


def tenant_name(
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
    if x_tenant is not None and tenant is not None and x_tenant != tenant:
        raise TenantConflict(f"X-Tenant header {x_tenant!r} and tenant parameter {tenant!r} differ")
    name = x_tenant if x_tenant is not None else tenant
    if name is None:
        raise TenantMissing("Name the tenant with the X-Tenant header or the tenant query parameter")
    return name


SettingsDep = Annotated[Settings, Depends(app_settings)]
UowDep = Annotated[UnitOfWork, Depends(unit_of_work)]
TenantDep = Annotated[str, Depends(tenant_name)]
