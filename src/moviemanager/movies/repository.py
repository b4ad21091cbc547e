from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, Text, column, false, func, literal_column, select, table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncResult, AsyncSession
from sqlalchemy.sql.selectable import NamedFromClause

from ..models import Movie
from .bulk import BulkMovies
from .csv_import import YEAR_RANGE
from .genres import genre_key

# Written exactly as the indexes' expressions, keys inline (a bound key would not match the index).
GENRE_KEYS = literal_column("movies.data -> 'genre_keys'", type_=JSONB)
YEAR = literal_column("(movies.data ->> 'year') COLLATE \"C\"", type_=Text)


@dataclass(frozen=True, kw_only=True)
class MovieFilters:
    genre: str | None = None
    year: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        # Each filter matches one expression index of migration 0002.
        conditions: list[ColumnElement[bool]] = []
        if self.genre:
            if "\x00" in self.genre:
                return [false()]  # no stored genre holds a NUL, and PostgreSQL JSONB cannot either
            conditions.append(GENRE_KEYS.contains([genre_key(self.genre)]))
        if self.year is not None:
            if not YEAR_RANGE[0] <= self.year <= YEAR_RANGE[1]:
                return [false()]  # no stored movie has such a year, and it may not fit an integer
            conditions.append(str(self.year) == YEAR)
        return conditions


class MovieRepository:
    """One tenant's movies."""

    def __init__(self, session: AsyncSession, tenant: str) -> None:
        self.session = session
        self.tenant = tenant

    async def get(self, tmdb_id: int) -> Movie | None:
        return await self.session.get(Movie, (self.tenant, tmdb_id))

    def list_statement(self, filters: MovieFilters, *, limit: int, offset: int = 0) -> Select[tuple[Movie]]:
        return (
            select(Movie)
            .where(Movie.tenant == self.tenant, *filters.conditions())
            .order_by(Movie.tmdb_id)
            .limit(limit)
            .offset(offset)
        )

    async def list(self, filters: MovieFilters, *, limit: int, offset: int = 0) -> list[Movie]:
        return list(await self.session.scalars(self.list_statement(filters, limit=limit, offset=offset)))

    async def count(self, filters: MovieFilters = MovieFilters()) -> int:
        statement = select(func.count()).where(Movie.tenant == self.tenant, *filters.conditions())
        return await self.session.scalar(statement)

    async def stream_all(
        self, filters: MovieFilters = MovieFilters(), *, batch_size: int = 1000
    ) -> AsyncResult[tuple[int, dict[str, Any]]]:
        """(tmdb_id, data) of every matching movie by TMDB id, fetched `batch_size` rows at a time
        through a server-side cursor, so the catalog is never in memory whole."""
        movies = await self._own_partition()
        statement = (
            select(movies.c.tmdb_id, movies.c.data)
            .where(*filters.conditions())
            .order_by(movies.c.tmdb_id)
            .execution_options(yield_per=batch_size)
        )
        return await self.session.stream(statement)

    async def extra_columns(self, filters: MovieFilters = MovieFilters()) -> tuple[str, ...]:
        """The CSV columns beyond the seed's that any matching movie has, sorted by name."""
        movies = await self._own_partition()
        names = func.jsonb_object_keys(movies.c.data["extra"])
        statement = select(names).where(*filters.conditions()).distinct()
        # Sorted here, not by the database's collation, so the order is the same on every server.
        return tuple(sorted(await self.session.scalars(statement)))

    async def _own_partition(self) -> NamedFromClause:
        """The tenant's partition, for long reads: a query on `movies` itself would hold a lock
        that every tenant's reload must wait for (see bulk.py). Named `movies` in the query, so
        the filters' expressions apply; a tenant without movies gets an empty stand-in."""
        name = await BulkMovies(self.session, self.tenant).current_partition()
        if name is None:
            return select(Movie.tmdb_id, Movie.data).where(false()).subquery("movies")
        return table(name, column("tmdb_id", BigInteger), column("data", JSONB)).alias("movies")
