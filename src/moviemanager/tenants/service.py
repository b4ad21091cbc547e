"""Tenant names and existence: the rules every tenant-scoped request goes through first."""

import re
import uuid

from ..errors import TenantNotFound
from ..models import TENANT_NAME_PATTERN
from ..uow import UnitOfWork

_TENANT_NAME = re.compile(TENANT_NAME_PATTERN)


def is_valid_tenant_name(name: str) -> bool:
    return _TENANT_NAME.fullmatch(name) is not None


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
