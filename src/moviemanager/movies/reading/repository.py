"""One tenant's movies for the reads SQLAlchemy serves: facets and exports, read from the tenant's
own partition."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, column, false, func, literal_column, select, table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncResult, AsyncSession
from sqlalchemy.sql.selectable import NamedFromClause

from ...models import Movie
from ..partitions import current_partition
from .facets import facets_statement
from .filters import NO_FILTERS, MovieFilters, category_subtree

# A movie's data as an export writes it: without a Category ID whose category was deleted since,
# so that the file imports again.
EXPORTED_DATA_SQL = """CASE WHEN movies.data -> 'category_id' IS NOT NULL AND NOT EXISTS (
        SELECT FROM categories WHERE categories.id = CAST(movies.data ->> 'category_id' AS integer)
    ) THEN movies.data - 'category_id' ELSE movies.data END"""


class MovieRepository:
    """One tenant's movies."""

    def __init__(self, session: AsyncSession, tenant: str) -> None:
        self.session = session
        self.tenant = tenant

    async def facets(self, filters: MovieFilters = NO_FILTERS) -> Sequence[tuple[str, Any, Any, int]]:
        """(facet, value, label, count) rows: see facets.facets_statement. Read from the tenant's own
        partition, as a facet over a big tenant is a long read."""
        movies = await self._own_partition()
        filters = await filters.resolved(category_subtree(self.session))
        statement = facets_statement(movies, filters.conditions(), self.tenant)
        return [tuple(row) for row in await self.session.execute(statement)]

    async def stream_all(
        self, filters: MovieFilters = NO_FILTERS, *, batch_size: int = 1000
    ) -> AsyncResult[tuple[int, dict[str, Any]]]:
        """(tmdb_id, data) of every matching movie by TMDB id, fetched `batch_size` rows at a time
        through a server-side cursor, so the catalog is never in memory whole."""
        movies = await self._own_partition()
        filters = await filters.resolved(category_subtree(self.session))
        statement = (
            select(movies.c.tmdb_id, literal_column(EXPORTED_DATA_SQL, JSONB))
            .where(*filters.conditions())
            .order_by(movies.c.tmdb_id)
            .execution_options(yield_per=batch_size)
        )
        return await self.session.stream(statement)

    async def extra_columns(self, filters: MovieFilters = NO_FILTERS) -> tuple[str, ...]:
        """The CSV columns beyond the seed's that any matching movie has, sorted by name."""
        movies = await self._own_partition()
        filters = await filters.resolved(category_subtree(self.session))
        names = func.jsonb_object_keys(movies.c.data["extra"])
        statement = select(names).where(*filters.conditions()).distinct()
        # Sorted here, not by the database's collation, so the order is the same on every server.
        return tuple(sorted(await self.session.scalars(statement)))

    async def _own_partition(self) -> NamedFromClause:
        """The tenant's partition, for long reads: a query on `movies` itself would hold a lock
        that every tenant's reload must wait for (see importing/bulk.py). Named `movies` in the query, so
        the filters' expressions apply; a tenant without movies gets an empty stand-in (with every
        column of `movies`, the keys the filters and the facets read among them)."""
        name = await current_partition(self.session, self.tenant)
        if name is None:
            return select(*Movie.__table__.columns).where(false()).subquery("movies")
        return table(name, column("tmdb_id", BigInteger), column("data", JSONB)).alias("movies")
