"""The reads of GET /categories, each one statement on a read-pool connection (read_pool.py), as
the hot reads of movies/reading/views.py run: the tree alone, or with a tenant its data version,
the tree and the counts (stored, or those of the matching movies) together, in one snapshot. A
standby may answer a report when this process knows the tenant's version, and only with it; the
primary answers for the tree alone (see replicas.Replicas.session)."""

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Boolean, literal_column

from ..errors import TenantNotFound
from ..movies.category_counts import category_counts
from ..movies.reading.filters import MovieFilters, category_subtree_on
from ..movies.reading.statements import CONDITIONS, Parameters, sql_for_read_pool, sql_with_conditions
from ..read_pool import ReadRunner
from ..tenants.versions import DataVersions
from .repository import Counts
from .service import gc_paused

TREE_SQL = "SELECT id, parent_id, name FROM categories ORDER BY id"
STORED_COUNTS_SQL = "SELECT category_id, movie_count, total_count FROM category_counts WHERE tenant = $1"

# $1 the tenant. First the tenant's data version (as `name`, the only row if the tree is empty),
# then one row per category by id, if the tenant exists. The version once, not on each row: for a
# tree of 100,000 nodes, decoding it on every row cost more than the rest.
REPORT_SQL = """
    SELECT NULL::integer AS id, NULL::integer AS parent_id, data_version::text AS name,
        NULL::integer AS movie_count, NULL::integer AS total_count
    FROM tenants WHERE tenants.name = $1
    UNION ALL
    SELECT categories.id, categories.parent_id, categories.name, counts.movie_count, counts.total_count
    FROM categories LEFT JOIN ({counts}) AS counts ON counts.category_id = categories.id
    WHERE EXISTS (SELECT FROM tenants WHERE tenants.name = $1)
    ORDER BY id NULLS FIRST"""


@dataclass(frozen=True)
class Report:
    version: uuid.UUID
    rows: Sequence[Sequence[Any]]  # (id, parent_id, name, …) by id
    counts: dict[int, Counts]


async def category_rows(read_pool: ReadRunner) -> list[asyncpg.Record]:
    """Every category, flat, by id: (id, parent_id, name). asyncpg's records, not SQLAlchemy's
    rows: for a tree of 100,000 nodes, SQLAlchemy's result processing was most of the request."""

    async def read(connection: asyncpg.Connection) -> list[asyncpg.Record]:
        # 100,000 records made with the garbage collector on took twice as long (see service.nested).
        with gc_paused():
            return await connection.fetch(TREE_SQL)

    return await read_pool.run(NO_TENANT, read)


async def category_report(read_pool: ReadRunner, versions: DataVersions, tenant: str, filters: MovieFilters) -> Report:
    """The tree's rows and the tenant's counts of the movies matching `filters`."""

    async def read(connection: asyncpg.Connection) -> Report | None:
        resolved = await filters.resolved(category_subtree_on(connection))
        parameters = Parameters()
        parameters.bind(tenant)
        if resolved.where(Parameters().bind):
            sql = sql_with_conditions(_live_report_sql(), resolved, parameters)
        else:
            sql = _STORED_REPORT_SQL
        with gc_paused():  # as category_rows
            records = await connection.fetch(sql, *parameters.values)
        if not records:
            return None
        rows = records[1:]
        counts = {row[0]: Counts(row[3], row[4]) for row in rows if row[3] is not None}
        return Report(uuid.UUID(records[0][2]), rows, counts)

    known = versions.get(tenant)
    report = await read_pool.run(
        tenant, read, fresh=None if known is None else lambda report: report is not None and report.version == known
    )
    if report is None:
        raise TenantNotFound(tenant)
    return report


NO_TENANT = ""  # the categories are every tenant's: no row-level security applies
_STORED_REPORT_SQL = REPORT_SQL.format(counts=STORED_COUNTS_SQL)


@functools.cache
def _live_report_sql() -> str:
    # Statement-level jit is off on read-pool connections: planned for a million rows, this one
    # would be JIT-compiled first (0.6 s, more than it runs).
    counts = category_counts(literal_column("$1"), conditions=[literal_column(CONDITIONS, Boolean)])
    return REPORT_SQL.format(counts=sql_for_read_pool(counts))
