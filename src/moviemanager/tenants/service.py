"""Tenant existence: the check every tenant-scoped request goes through first (names: tenancy.py)."""

import uuid

from ..errors import TenantNotFound
from ..uow import UnitOfWork


async def require_tenant(uow: UnitOfWork, name: str) -> None:
    if not await uow.tenants.exists(name):
        raise TenantNotFound(name)


async def require_data_version(uow: UnitOfWork, name: str) -> uuid.UUID:
    """The tenant's data version (one query, in place of the existence check)."""
    version = await uow.tenants.data_version(name)
    if version is None:
        raise TenantNotFound(name)
    return version


async def list_tenants(uow: UnitOfWork) -> list[str]:
    """Every registered tenant, sorted by name."""
    async with uow:
        return await uow.tenants.list_names()
