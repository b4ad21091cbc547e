"""A big replace's new partitions built over several connections, swapped in by one transaction.

After the COPY an import spends most of its time building indexes, one after the other, and the
longest of them (a GIN: PostgreSQL 15 builds those in one process) leaves the second core idle.
Other connections can build indexes on a table only once the transaction that made it has
committed, so a big replace (see importer._replace_in_parallel):

1. COPYs the movies into a new table on a side connection, adds the primary key, compares, and
   commits the table unattached and hidden from the app role (partition_hide, migration 0008);
2. builds the table's other indexes, and the tenant's next movie_categories partition, on
   BUILD_CONNECTIONS side connections, each taking the next job from one queue (GIN first);
3. swaps both in from the unit of work's transaction, which holds the tenant's writer lock from
   before step 1 to the end, as a replace done in one transaction does.

Readers never see the new tables before the swap (they are not attached). A failure after step 1
drops them; a crash leaves them behind, and the tenant's next big replace drops them first: it
holds the writer lock, so they cannot belong to an import still running.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from ..tenants.repository import TenantRepository
from .bulk import BulkMovies

if TYPE_CHECKING:
    from ..uow import UnitOfWork

log = logging.getLogger(__name__)

# Files at least this big are imported this way (about 16,000 rows); smaller ones in one
# transaction, where two more connections and commits would cost more than they save.
PARALLEL_BUILD_BYTES = 8 * 1024 * 1024
# Builds at once. Each runs in one process (no parallel workers): two fill two cores.
BUILD_CONNECTIONS = 2

PARENTS = ("movies", "movie_categories")

SideSessions = Callable[[], AsyncSession]
# A job makes or indexes a table in a transaction that commits when it returns; a job that makes
# one returns (parent, table), so that the table is dropped if the import fails later.
Job = Callable[[BulkMovies], Awaitable[tuple[str, str] | None]]


class ParallelBuild:
    """The side connections of one tenant's replace, and the tables it committed."""

    def __init__(self, sessions: SideSessions, tenant: str) -> None:
        self.sessions = sessions
        self.tenant = tenant
        self.committed: list[tuple[str, str]] = []  # (parent, table), to drop if the import fails
        self._started: asyncio.Future[None] | None = None

    def mark_committed(self, table: str, *, parent: str = "movies") -> None:
        self.committed.append((parent, table))

    @property
    def links(self) -> str:
        """The new movie_categories partition, once committed."""
        return next(table for parent, table in self.committed if parent == "movie_categories")

    def start(self, job: Job) -> None:
        """Run `job` now, on a connection of its own; run() waits for it before it uses that one."""
        self._started = asyncio.ensure_future(self._run_job(job))

    async def discard_started(self) -> None:
        """Wait for the job start() began, and drop the table it made."""
        await self._started
        parent, table = self.committed.pop()
        async with self.sessions() as session:
            await BulkMovies(session, self.tenant).drop_new(table, parent=parent)
            await session.commit()
        self._started = None

    async def run(self, jobs: Sequence[Job]) -> None:
        """Run the jobs on BUILD_CONNECTIONS connections (one of them the started job's, once it
        ended), each job in a transaction of its own.

        A failed job stops the others from taking new jobs; the first failure is raised once the
        jobs running have ended.
        """
        queue = list(reversed(jobs))
        failures: list[BaseException] = []

        async def worker(first: asyncio.Future[None] | None) -> None:
            try:
                if first is not None:
                    await first
                while queue and not failures:
                    await self._run_job(queue.pop())
            except BaseException as exc:
                failures.append(exc)

        started, self._started = self._started, None
        await asyncio.gather(worker(started), *(worker(None) for _ in range(BUILD_CONNECTIONS - 1)))
        if failures:
            raise failures[0]

    async def _run_job(self, job: Job) -> None:
        async with self.sessions() as session:
            made = await job(BulkMovies(session, self.tenant))
            await session.commit()
        if made is not None:
            self.committed.append(made)

    async def drop_committed(self) -> None:
        """Drop the tables this import committed, once it has failed and its transaction ended.

        Under the tenant's writer lock, as the next import's drop_leftovers: when another import
        of the tenant holds it, that one has dropped them or will. What cannot be dropped now
        (the database went away) the tenant's next big replace drops.
        """
        try:
            if self._started is not None:
                await asyncio.gather(self._started, return_exceptions=True)
            if not self.committed:
                return
            async with self.sessions() as session:
                if not await TenantRepository(session).try_writer_lock(self.tenant):
                    return
                bulk = BulkMovies(session, self.tenant)
                leftovers = {parent: set(await bulk.unattached(parent)) for parent in PARENTS}
                for parent, table in self.committed:
                    if table in leftovers[parent]:
                        await bulk.drop_new(table, parent=parent)
                await session.commit()
        except Exception:
            log.exception("could not drop the new tables of a failed import of %s", self.tenant)


async def drop_leftovers(bulk: BulkMovies) -> None:
    """Drop what killed imports of the tenant left; `bulk`'s transaction must hold the tenant's
    writer lock (so that they cannot belong to an import still running)."""
    for parent in PARENTS:
        for table in await bulk.unattached(parent):
            log.warning("dropping %s, left unattached by an import of %s that did not finish", table, bulk.tenant)
            await bulk.drop_new(table, parent=parent)


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


def links_job(files: Sequence[str]) -> Job:
    """The tenant's next movie_categories partition, from the parsers' files, indexed, hidden."""

    async def build(bulk: BulkMovies) -> tuple[str, str]:
        await bulk.one_process_per_build()
        links = await bulk.create_links(None, files)
        await bulk.hide(links, parent="movie_categories")
        return "movie_categories", links

    return build
