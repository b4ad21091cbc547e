"""Which table holds a tenant's movies: `movies` is partitioned by tenant, one partition each,
which an import swaps whole (importing/bulk.py) and long reads use directly (reading/repository.py)."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

CURRENT_PARTITION_SQL = text(
    """
    SELECT child.relname FROM pg_inherits
    JOIN pg_class child ON child.oid = pg_inherits.inhrelid
    WHERE pg_inherits.inhparent = CAST('movies' AS regclass)
      AND pg_get_expr(child.relpartbound, child.oid) = format('FOR VALUES IN (%L)', CAST(:tenant AS text))
    """
)


async def current_partition(session: AsyncSession, tenant: str) -> str | None:
    """The name of the tenant's partition of `movies`, or None before its first import."""
    return (await session.execute(CURRENT_PARTITION_SQL, {"tenant": tenant})).scalar()
