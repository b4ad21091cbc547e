"""Bulk writes of one tenant's movies: COPY into a fresh table, index it once, swap it in.

`movies` is partitioned by tenant (migration 0002). A replace builds the tenant's next partition
as a plain table (COPY FREEZE with no index, then every index of `movies` built in bulk) and, at
the end of the same transaction, drops the old partition and attaches the new one. Readers see the
old set until commit, and the old rows leave with their table: no dead tuples, no VACUUM debt.

The tenant's category counts, genre names and whole-catalog facets are rewritten in the same
transaction: the first two from what the parsers counted and noted, or from the new rows (a
movie's categories are those of its genres and of its Category ID, see
movies/category_counts.py), the facets from the new rows.

The app role that serves requests owns no table: creating, indexing, analysing, dropping and
attaching partitions go through owner functions of migration 0006, which check the tenant
against the transaction's (`app.tenant`); COPY, the diff, the counts and the upsert run as the
app role, on tables it was granted.

Locks: only the swap touches `movies` itself (ACCESS EXCLUSIVE for the DROP, held until commit,
so it comes last); everything before works on the tenant's own tables, so reloads of different
tenants never wait for each other's COPY.
"""

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ...database_errors import LOCK_NOT_AVAILABLE, sqlstate
from ...errors import CatalogBusy
from ..category_counts import counts_insert
from ..partitions import current_partition
from ..reading.statements import facets_insert_sql
from .copy_format import COPY_COLUMNS

# The swap's lock waits (see swap): short, retried, then 409 rather than stalling every reader.
TENANT_LOCK_TIMEOUT = "1s"
SHARED_LOCK_TIMEOUT = "200ms"
SWAP_ATTEMPTS = 10
# Bulk index builds sort in memory up to this much, per build, instead of spilling to disk.
INDEX_BUILD_MEMORY = "256MB"
DUPLICATES_PER_FETCH = 10_000
# How much of the tenant's name the names of its tables hold (migration 0006).
PREFIX_LENGTH = 40
# The first spelling (in code point order, as the parsers compare) of each genre key of the
# tenant's movies. A movie's keys and names side by side: two set-returning functions in one select
# list run in lockstep; an explicit category's key ends genre_keys with no name beside it.
GENRE_NAMES_FROM_MOVIES = """
    INSERT INTO genre_names (tenant, key, name)
    SELECT :tenant, genre.key, min(genre.name COLLATE "C")
    FROM movies CROSS JOIN LATERAL (
        SELECT jsonb_array_elements_text(movies.data -> 'genre_keys') AS key,
               jsonb_array_elements_text(movies.data -> 'genres') AS name
    ) AS genre
    WHERE movies.tenant = :tenant AND genre.key IS NOT NULL AND genre.name IS NOT NULL
    GROUP BY genre.key
"""


@dataclass(frozen=True)
class Diff:
    inserted: int
    updated: int
    deleted: int
    unchanged: int


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class BulkMovies:
    """The tables behind one tenant's movies, for imports."""

    def __init__(self, session: AsyncSession, tenant: str) -> None:
        self.session = session
        self.tenant = tenant

    async def _run(self, sql: str, **params: Any) -> Any:
        return await self.session.execute(text(sql), params)

    async def _owner(self, function: str, table: str) -> None:
        """One of migration 0006's owner functions on a new table of this tenant."""
        await self._run(f"SELECT {function}('movies', :tenant, :table)", tenant=self.tenant, table=table)

    async def current_partition(self) -> str | None:
        return await current_partition(self.session, self.tenant)

    async def create_table(self, *, temporary: bool = False) -> str:
        """A new, empty, unindexed table shaped like `movies`, for this tenant's rows only.

        Made by the owner (a function of migration 0006): the app role owns no table.
        """
        result = await self._run(
            "SELECT partition_create_table('movies', :tenant, :temporary)",
            tenant=self.tenant,
            temporary=temporary,
        )
        return result.scalar_one()

    async def write_counts(self, sets: dict[tuple[int, ...], int] | None = None) -> None:
        """The tenant's category counts (in the import's transaction), from the movies per set of
        categories the parsers counted, or from its movies as this transaction sees them."""
        await self._run("DELETE FROM category_counts WHERE tenant = :tenant", tenant=self.tenant)
        # No JIT: the planner expects many genres a movie, and compiling for that estimate costs
        # more than the statement (0.6 s for a million movies).
        await self._run("SET LOCAL jit = off")
        await self.session.execute(counts_insert(self.tenant, sets))
        await self._run("SET LOCAL jit = DEFAULT")

    async def write_genre_names(self, names: dict[str, str] | None = None) -> None:
        """The tenant's spelling of each genre key (genre_names, read by the facets): the names the
        parsers noted, or those of its movies as this transaction sees them."""
        await self._run("DELETE FROM genre_names WHERE tenant = :tenant", tenant=self.tenant)
        if names is None:
            await self._run(GENRE_NAMES_FROM_MOVIES, tenant=self.tenant)
        else:
            await self._run(
                "INSERT INTO genre_names (tenant, key, name)"
                " SELECT :tenant, * FROM unnest(CAST(:keys AS text[]), CAST(:names AS text[]))",
                tenant=self.tenant,
                keys=list(names),
                names=list(names.values()),
            )

    async def write_facets(self, partition: str) -> None:
        """The facets of the tenant's whole catalog (facet_counts), from its partition as this
        transaction sees it; after its genre names, which name the genres."""
        await self._run("DELETE FROM facet_counts WHERE tenant = :tenant", tenant=self.tenant)
        await self._run("SET LOCAL jit = off")  # as write_counts
        await self.session.execute(text(facets_insert_sql(self.tenant, partition)))
        await self._run("SET LOCAL jit = DEFAULT")

    async def copy(self, table: str, chunks: AsyncIterable[bytes]) -> None:
        """COPY text-format rows in; FREEZE, as the table is new in this transaction (no VACUUM later)."""
        connection = await self.session.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        await raw.copy_to_table(table, source=chunks, columns=COPY_COLUMNS, format="text", freeze=True)

    async def add_primary_key(self, table: str) -> bool:
        """Build the (tenant, tmdb_id) primary key, as `movies` has it; False when ids repeat.

        ATTACH PARTITION adopts a matching primary key (a bare unique index would not do).
        """
        try:
            async with self.session.begin_nested():
                await self._owner("partition_add_primary_key", table)
        except IntegrityError:
            return False
        return True

    async def duplicates(self, table: str) -> AsyncIterator[tuple[int, list[int]]]:
        """Each TMDB id that more than one row has, with the ordinals of those rows.

        Ordinals count rows as COPYed, from 0: a table filled by one COPY in the transaction that
        created it keeps the rows in that order.
        """
        # A file sent twice over repeats every id: fetch in batches, never all at once. A cursor of
        # our own, as asyncpg keeps its portals open to the end of the transaction, which would
        # forbid the ALTER TABLE that follows.
        await self._run(
            f"""
            DECLARE repeated_ids NO SCROLL CURSOR FOR
            SELECT tmdb_id, array_agg(ordinal)
            FROM (SELECT tmdb_id, row_number() OVER (ORDER BY ctid) - 1 AS ordinal FROM {_quoted(table)}) AS numbered
            WHERE tmdb_id IN (SELECT tmdb_id FROM {_quoted(table)} GROUP BY tmdb_id HAVING count(*) > 1)
            GROUP BY tmdb_id
            """
        )
        try:
            while batch := (await self._run(f"FETCH {DUPLICATES_PER_FETCH} FROM repeated_ids")).all():
                for tmdb_id, ordinals in batch:
                    yield tmdb_id, ordinals
        finally:
            await self._run("CLOSE repeated_ids")

    async def delete_repeats(self, table: str, ordinals: Sequence[int]) -> int:
        """Delete the rows at these ordinals (see duplicates); return how many went."""
        # A join with the unnested array, not `= ANY(array)`, which compares each row with every element.
        result = await self._run(
            f"""
            DELETE FROM {_quoted(table)} AS t USING (
                SELECT numbered.ctid
                FROM (SELECT ctid, row_number() OVER (ORDER BY ctid) - 1 AS ordinal FROM {_quoted(table)}) AS numbered
                JOIN unnest(CAST(:ordinals AS bigint[])) AS doomed(ordinal) USING (ordinal)
            ) AS doomed
            WHERE t.ctid = doomed.ctid
            """,
            ordinals=ordinals,
        )
        return result.rowcount

    async def add_other_indexes(self, table: str) -> None:
        """Every index `movies` has, built in bulk; ATTACH PARTITION adopts them as they match."""
        await self._run(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
        await self._owner("partition_add_indexes", table)

    async def index_names(self) -> list[str]:
        """The indexes of `movies` but its primary key, GIN first (PostgreSQL 15 builds those in
        one process: the longest builds)."""
        result = await self._run(
            """
            SELECT index.relname FROM pg_index
            JOIN pg_class AS index ON index.oid = pg_index.indexrelid
            JOIN pg_am ON pg_am.oid = index.relam
            WHERE pg_index.indrelid = CAST('movies' AS regclass) AND NOT pg_index.indisprimary
            ORDER BY pg_am.amname <> 'gin', index.relname
            """
        )
        return list(result.scalars())

    async def add_index(self, table: str, index: str) -> None:
        """One index of `movies`, built in one process: other connections build the others meanwhile."""
        await self._run(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
        await self.one_process_per_build()
        await self._run(
            "SELECT partition_add_index('movies', :tenant, :table, :index)",
            tenant=self.tenant,
            table=table,
            index=index,
        )

    async def one_process_per_build(self) -> None:
        """No parallel workers for this transaction's index builds (other connections build others)."""
        await self._run("SET LOCAL max_parallel_maintenance_workers = 0")

    async def hide(self, table: str) -> None:
        """No rights on the new table for the app role, before the table is committed unattached:
        the swap grants them again, with the tenant policy."""
        await self._owner("partition_hide", table)

    async def drop_new(self, table: str) -> None:
        """Drop a table of this tenant that was never attached."""
        await self._owner("partition_drop_new", table)

    async def unattached(self) -> list[str]:
        """The tenant's tables under `movies` that were made for it and never attached (see
        partition_new_table of migration 0006): what an import killed midway left."""
        result = await self._run(
            """
            SELECT c.relname FROM pg_class c
            WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND NOT c.relispartition
              AND c.relnamespace = CAST(current_schema() AS regnamespace)
              AND starts_with(c.relname, :prefix)
              AND EXISTS (
                SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c'
                AND pg_get_constraintdef(k.oid) = format('CHECK ((tenant = %L::text))', CAST(:tenant AS text))
              )
            """,
            prefix=f"movies__{self.tenant[:PREFIX_LENGTH]}__",
            tenant=self.tenant,
        )
        return list(result.scalars())

    @staticmethod
    async def tenants_with_leftovers(session: AsyncSession) -> list[str]:
        """The tenants that have tables made for them under movies and never attached (see
        unattached), from those tables' CHECK constraints."""
        result = await session.execute(
            text(
                r"""
                SELECT DISTINCT substring(pg_get_constraintdef(k.oid) FROM '^CHECK \(\(tenant = ''(.*)''::text\)\)$')
                FROM pg_class c JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'c'
                WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND NOT c.relispartition
                  AND c.relnamespace = CAST(current_schema() AS regnamespace)
                  AND starts_with(c.relname, 'movies__')
                """
            )
        )
        return [tenant for tenant in result.scalars() if tenant is not None]

    async def analyze(self, table: str) -> None:
        """Statistics now, so the first queries after the swap are planned for the new data."""
        await self._owner("partition_analyze", table)

    async def count(self, table: str) -> int:
        return (await self._run(f"SELECT count(*) FROM {_quoted(table)}")).scalar_one()

    async def diff(self, new: str, old: str, *, replace: bool) -> Diff:
        """What writing `new` over `old` changes: by id, and by checksum for ids in both."""
        join = "FULL JOIN" if replace else "LEFT JOIN"
        result = await self._run(
            f"""
            SELECT count(*) FILTER (WHERE old.tmdb_id IS NULL),
                   count(*) FILTER (WHERE new.tmdb_id = old.tmdb_id
                                     AND new.checksum IS DISTINCT FROM old.checksum),
                   count(*) FILTER (WHERE new.tmdb_id IS NULL),
                   count(*) FILTER (WHERE new.checksum = old.checksum)
            FROM {_quoted(new)} AS new {join} {_quoted(old)} AS old ON old.tmdb_id = new.tmdb_id
            """
        )
        return Diff(*result.one())

    async def swap(self, old: str | None, new: str) -> None:
        """Make `new` the tenant's partition of movies, dropping the old one.

        Locks in two steps, each with a short timeout and retried: first the old partition (waits
        only for this tenant's readers), then the parent, which every query passes through. While
        a lock request waits, queries queue behind it, so no wait may be long.
        """
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            try:
                async with self.session.begin_nested():
                    await self._run(
                        "SELECT partitions_swap(:tenant, :old, :new, :tenant_lock_timeout, :shared_lock_timeout)",
                        tenant=self.tenant,
                        old=old,
                        new=new,
                        tenant_lock_timeout=TENANT_LOCK_TIMEOUT,
                        shared_lock_timeout=SHARED_LOCK_TIMEOUT,
                    )
                return
            except DBAPIError as exc:
                if sqlstate(exc) != LOCK_NOT_AVAILABLE:
                    raise
            await asyncio.sleep(0.05 * attempt)
        raise CatalogBusy(self.tenant)

    async def upsert(self, staging: str, partition: str) -> None:
        """Insert new ids and rewrite changed ones; unchanged rows are not touched (no dead tuples)."""
        columns = ", ".join(COPY_COLUMNS)
        updates = ", ".join(f"{name} = excluded.{name}" for name in COPY_COLUMNS if name not in ("tenant", "tmdb_id"))
        await self._run(
            f"""
            INSERT INTO {_quoted(partition)} AS movie ({columns})
            SELECT {columns} FROM {_quoted(staging)}
            ON CONFLICT (tenant, tmdb_id) DO UPDATE SET {updates}
            WHERE movie.checksum IS DISTINCT FROM excluded.checksum
            """
        )
