import uuid

from sqlalchemy import Update, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ..database_errors import LOCK_NOT_AVAILABLE, sqlstate
from ..errors import TenantBusy
from ..models import Tenant
from .versions import record_written

# Any fixed number, distinct from the migration lock's.
REGISTRY_LOCK_KEY = 0x6D6D_7465
# The first key of pg_advisory_xact_lock(int, int) for a tenant's writers; the second is its name's hash.
WRITER_LOCK_SPACE = 0x6D6D_7772


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
        await self._write_versions(new_version)

    async def new_data_version_everywhere(self) -> None:
        """Mark every tenant's movies as changed: the category tree they all show was."""
        await self._write_versions(update(Tenant).values(data_version=func.gen_random_uuid()))

    async def _write_versions(self, statement: Update) -> None:
        """Run an update of data versions; at commit, this process's DataVersions learns them."""
        written = await self.session.execute(statement.returning(Tenant.name, Tenant.data_version))
        record_written(self.session, dict(written.all()))

    async def any_exist(self) -> bool:
        return bool(await self.session.scalar(select(exists().select_from(Tenant))))

    async def add_and_lock(self, name: str, *, wait: float) -> None:
        """Take the tenant's writer lock, waiting at most `wait` seconds (TenantBusy if not had);
        then register the tenant if new and lock its row until the transaction ends.

        The advisory lock serialises writers of one tenant's catalog, even before the tenant's
        row exists; writers of other tenants and readers are not blocked.
        """
        # The transaction's own lock timeout comes back once the lock is had.
        saved = await self.session.scalar(
            text("SELECT current_setting('lock_timeout'), set_config('lock_timeout', :wait, true)"),
            {"wait": f"{round(wait * 1000)}ms"},
        )
        try:
            await self.session.execute(select(func.pg_advisory_xact_lock(WRITER_LOCK_SPACE, func.hashtext(name))))
        except DBAPIError as exc:
            if sqlstate(exc) == LOCK_NOT_AVAILABLE:
                raise TenantBusy(name) from None
            raise
        await self.session.execute(select(func.set_config("lock_timeout", saved, True)))
        await self.session.execute(insert(Tenant).values(name=name).on_conflict_do_nothing())
        await self.session.execute(select(Tenant.name).where(Tenant.name == name).with_for_update())

    async def try_writer_lock(self, name: str) -> bool:
        """Take the tenant's writer lock (see add_and_lock) if no other transaction holds it."""
        lock = func.pg_try_advisory_xact_lock(WRITER_LOCK_SPACE, func.hashtext(name))
        return bool(await self.session.scalar(select(lock)))

    async def lock_registry(self) -> None:
        """Hold a transaction-scoped lock so that only one process seeds an empty database."""
        await self.session.execute(select(func.pg_advisory_xact_lock(REGISTRY_LOCK_KEY)))
