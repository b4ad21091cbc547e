import uuid

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Tenant

# Any fixed number, distinct from the migration lock's.
REGISTRY_LOCK_KEY = 0x6D6D_7465


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_names(self) -> list[str]:
        return list(await self.session.scalars(select(Tenant.name).order_by(Tenant.name)))

    async def exists(self, name: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(Tenant.name == name))))

    async def data_version(self, name: str) -> uuid.UUID | None:
        """The tenant's data version (see models.Tenant), or None when there is no such tenant."""
        return await self.session.scalar(select(Tenant.data_version).where(Tenant.name == name))

    async def new_data_version(self, name: str) -> None:
        """Mark the tenant's movies as changed: every ETag issued for them stops matching."""
        new_version = update(Tenant).where(Tenant.name == name).values(data_version=func.gen_random_uuid())
        await self.session.execute(new_version)

    async def any_exist(self) -> bool:
        return bool(await self.session.scalar(select(exists().select_from(Tenant))))

    async def add_and_lock(self, name: str) -> None:
        """Register the tenant if new, then lock its row until the transaction ends.

        The lock serialises writers of one tenant's catalog; readers are not blocked.
        """
        await self.session.execute(insert(Tenant).values(name=name).on_conflict_do_nothing())
        await self.session.execute(select(Tenant.name).where(Tenant.name == name).with_for_update())

    async def lock_registry(self) -> None:
        """Hold a transaction-scoped lock so that only one process seeds an empty database."""
        await self.session.execute(select(func.pg_advisory_xact_lock(REGISTRY_LOCK_KEY)))
