from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    column,
    false,
    func,
    literal,
    select,
    table,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncResult, AsyncSession
from sqlalchemy.sql.selectable import NamedFromClause

from ..models import Movie
from .bulk import BulkMovies
from .csv_import import RUNTIME_RANGE, YEAR_RANGE
from .explain import Explain
from .facets import facets_statement
from .genres import genre_key
from .ordering import GENRE_KEYS, RATING, RUNTIME, SEARCH_VECTOR, YEAR, Order, tsquery


@dataclass(frozen=True, kw_only=True)
class MovieFilters:
    genre: str | None = None
    year: int | None = None
    year_from: int | None = None
    year_to: int | None = None
    rating_gte: Decimal | None = None
    rating_lte: Decimal | None = None
    runtime_lte: int | None = None
    search: str | None = None  # a tsquery text (see search.tsquery_text), not the words typed

    def conditions(self) -> list[ColumnElement[bool]]:
        # Each filter matches an expression index of migrations 0002/0004 (runtime is only checked).
        conditions: list[ColumnElement[bool]] = []
        if self.genre:
            if "\x00" in self.genre:
                return [false()]  # no stored genre holds a NUL, and PostgreSQL JSONB cannot either
            conditions.append(GENRE_KEYS.contains([genre_key(self.genre)]))
        if self.year is not None:
            if not YEAR_RANGE[0] <= self.year <= YEAR_RANGE[1]:
                return [false()]  # no stored movie has such a year, and it may not fit an integer
            conditions.append(self.year == YEAR)
        if self.year_from is not None or self.year_to is not None:
            # Bounded by the valid years, so unknown years (0) never match a range.
            low = max(self.year_from or YEAR_RANGE[0], YEAR_RANGE[0])
            high = min(self.year_to if self.year_to is not None else YEAR_RANGE[1], YEAR_RANGE[1])
            conditions.append(YEAR.between(low, high))
        if self.rating_gte is not None or self.rating_lte is not None:
            low = max(self.rating_gte or Decimal(0), Decimal(0))  # unrated (-1) never matches
            high = self.rating_lte if self.rating_lte is not None else Decimal(10)
            conditions.append(RATING.between(low, high))
        if self.runtime_lte is not None:
            conditions.append(RUNTIME.between(0, min(self.runtime_lte, RUNTIME_RANGE[1])))
        if self.search is not None:
            conditions.append(SEARCH_VECTOR.op("@@")(tsquery(self.search)))
        return conditions

    def canonical(self) -> bytes:
        """The filters as bytes, equal for equal filters (cursors are bound to them)."""
        return orjson.dumps({name: str(value) for name, value in vars(self).items() if value is not None})


class MovieRepository:
    """One tenant's movies."""

    def __init__(self, session: AsyncSession, tenant: str) -> None:
        self.session = session
        self.tenant = tenant

    async def get(self, tmdb_id: int) -> Movie | None:
        return await self.session.get(Movie, (self.tenant, tmdb_id))

    def list_statement(
        self, filters: MovieFilters, order: Order | None = None, *, limit: int, offset: int = 0, after: tuple = ()
    ) -> Select:
        """Movies, with their sort key as a second column; `after`: the (key, tmdb_id) a page ended at."""
        key = order.key if order is not None and order.key is not None else Movie.tmdb_id
        descending = order is not None and order.descending
        statement = select(Movie, key.label("sort_key")).where(Movie.tenant == self.tenant, *filters.conditions())
        if after:
            last_key, last_id = after
            if key is Movie.tmdb_id:
                position, bound = Movie.tmdb_id, literal(last_id, BigInteger)
            else:
                position = tuple_(key, Movie.tmdb_id)
                bound = tuple_(literal(last_key, key.type), literal(last_id, BigInteger))
            statement = statement.where(position < bound if descending else position > bound)
        if key is Movie.tmdb_id:
            ordering = [Movie.tmdb_id.desc() if descending else Movie.tmdb_id]
        else:
            ordering = [key.desc(), Movie.tmdb_id.desc()] if descending else [key, Movie.tmdb_id]
        return statement.order_by(*ordering).limit(limit).offset(offset)

    async def list(self, filters: MovieFilters, *, limit: int, offset: int = 0) -> list[Movie]:
        return list(await self.session.scalars(self.list_statement(filters, limit=limit, offset=offset)))

    async def page(
        self, filters: MovieFilters, order: Order, *, limit: int, offset: int = 0, after: tuple = ()
    ) -> Sequence[tuple[Movie, Any]]:
        """(movie, sort key) rows of one page."""
        statement = self.list_statement(filters, order, limit=limit, offset=offset, after=after)
        return [tuple(row) for row in await self.session.execute(statement)]

    async def count(self, filters: MovieFilters = MovieFilters()) -> int:
        statement = select(func.count()).where(Movie.tenant == self.tenant, *filters.conditions())
        return await self.session.scalar(statement)

    async def estimated_count(self, filters: MovieFilters = MovieFilters()) -> int:
        """The planner's estimate of the matching movies: instant, from statistics, roughly right."""
        statement = select(literal(1)).where(Movie.tenant == self.tenant, *filters.conditions())
        plan = await self.session.scalar(Explain(statement, "FORMAT JSON"))
        if isinstance(plan, str | bytes):
            plan = orjson.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])

    async def facets(self, filters: MovieFilters = MovieFilters()) -> Sequence[tuple[str, Any, Any, int]]:
        """(facet, value, label, count) rows: see facets.facets_statement. Read from the tenant's own
        partition, as a facet over a big tenant is a long read."""
        movies = await self._own_partition()
        return [tuple(row) for row in await self.session.execute(facets_statement(movies, filters.conditions()))]

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
