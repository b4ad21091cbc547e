"""A big replace's new partitions built over several connections, swapped in by one transaction.

After the COPY an import spends most of its time building indexes, one after the other, and the
longest of them (a GIN: PostgreSQL 15 builds those in one process) leaves the second core idle.
Other connections can build indexes on a table only once the transaction that made it has
committed, so a big replace (see importer._replace_in_parallel):

1. COPYs the movies into a new table on a side connection, adds the primary key, compares, and
   commits the table unattached and hidden from the app role (partition_hide, migration 0008);
2. builds the table's other indexes on BUILD_CONNECTIONS side connections, each taking the next
   job from one queue (GIN first);
3. swaps it in from the unit of work's transaction, which holds the tenant's writer lock from
   before step 1 to the end, as a replace done in one transaction does.

Readers never see the new table before the swap (it is not attached). A failure after step 1
drops it; a crash leaves it behind, and the tenant's next big replace drops it first: it holds the
writer lock, so it cannot belong to an import still running.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from ...tenants.repository import TenantRepository
from .bulk import BulkMovies

if TYPE_CHECKING:
    from ...uow import UnitOfWork

log = logging.getLogger(__name__)

# Files at least this big are imported this way (about 16,000 rows); smaller ones in one
# transaction, where two more connections and commits would cost more than they save.
PARALLEL_BUILD_BYTES = 8 * 1024 * 1024
# Builds at once. Each runs in one process (no parallel workers): two fill two cores.
BUILD_CONNECTIONS = 2

SideSessions = Callable[[], AsyncSession]
# A job indexes the new table in a transaction that commits when it returns.
Job = Callable[[BulkMovies], Awaitable[None]]


class ParallelBuild:
    """The side connections of one tenant's replace, and the tables it committed."""

    def __init__(self, sessions: SideSessions, tenant: str) -> None:
        self.sessions = sessions
        self.tenant = tenant
        self.committed: list[str] = []  # to drop if the import fails

    def mark_committed(self, table: str) -> None:
        self.committed.append(table)

    async def run(self, jobs: Sequence[Job]) -> None:
        """Run the jobs on BUILD_CONNECTIONS connections, each job in a transaction of its own.

        A failed job stops the others from taking new jobs; the first failure is raised once the
        jobs running have ended.
        """
        queue = list(reversed(jobs))
        failures: list[BaseException] = []

        async def worker() -> None:
            try:
                while queue and not failures:
                    await self._run_job(queue.pop())
            except BaseException as exc:
                failures.append(exc)

        await asyncio.gather(*(worker() for _ in range(BUILD_CONNECTIONS)))
        if failures:
            raise failures[0]

    async def _run_job(self, job: Job) -> None:
        async with self.sessions() as session:
            await job(BulkMovies(session, self.tenant))
            await session.commit()

    async def drop_committed(self) -> None:
        """Drop the tables this import committed, once it has failed and its transaction ended.

        Under the tenant's writer lock, as the next import's drop_leftovers: when another import
        of the tenant holds it, that one has dropped them or will. What cannot be dropped now
        (the database went away) the tenant's next big replace drops.
        """
        try:
            if not self.committed:
                return
            async with self.sessions() as session:
                if not await TenantRepository(session).try_writer_lock(self.tenant):
                    return
                bulk = BulkMovies(session, self.tenant)
                leftovers = set(await bulk.unattached())
                for table in self.committed:
                    if table in leftovers:
                        await bulk.drop_new(table)
                await session.commit()
        except Exception:
            log.exception("could not drop the new tables of a failed import of %s", self.tenant)


async def drop_leftovers(bulk: BulkMovies) -> None:
    """Drop what killed imports of the tenant left; `bulk`'s transaction must hold the tenant's
    writer lock (so that they cannot belong to an import still running)."""
    for table in await bulk.unattached():
        log.warning("dropping %s, left unattached by an import of %s that did not finish", table, bulk.tenant)
        await bulk.drop_new(table)


async def drop_every_leftover(units: Callable[[], "UnitOfWork"]) -> None:
    """At start: drop what killed imports left, for every tenant no import is running for."""
    async with units().for_tenant(None) as uow:
        tenants = await BulkMovies.tenants_with_leftovers(uow.session)
    for tenant in tenants:
        async with units().for_tenant(tenant, importing=True) as uow:
            if await uow.tenants.try_writer_lock(tenant):
                await drop_leftovers(uow.bulk_movies(tenant))
                await uow.commit()


def index_job(table: str, index: str) -> Job:
    async def build(bulk: BulkMovies) -> None:
        await bulk.add_index(table, index)

    return build
