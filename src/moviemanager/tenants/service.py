"""Tenant names and existence: the rules every tenant-scoped request goes through first."""

import re

from ..errors import InvalidTenantName, TenantNotFound
from ..models import TENANT_NAME_PATTERN
from ..uow import UnitOfWork

_TENANT_NAME = re.compile(TENANT_NAME_PATTERN)


def is_valid_tenant_name(name: str) -> bool:
    return _TENANT_NAME.fullmatch(name) is not None


def validate_tenant_name(name: str) -> str:
    if not is_valid_tenant_name(name):
        raise InvalidTenantName(
            "Tenant names are 1-64 characters: lowercase letters, digits, '_' and '-', starting with a letter or digit"
        )
    return name


async def require_tenant(uow: UnitOfWork, name: str) -> None:
    if not await uow.tenants.exists(name):
        raise TenantNotFound(name)


async def list_tenants(uow: UnitOfWork) -> list[str]:
    """Every registered tenant, sorted by name."""
    async with uow:
        return await uow.tenants.list_names()
