from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    column,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB, array
from sqlalchemy.ext.asyncio import AsyncResult, AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.selectable import NamedFromClause

from ..models import Category, Movie, movie_categories
from .bulk import BulkMovies
from .csv_import import RUNTIME_RANGE, YEAR_RANGE
from .explain import Explain
from .facets import facets_statement
from .genres import canonical_genre, genre_key
from .ordering import GENRE_KEYS, RATING, RUNTIME, SEARCH_VECTOR, YEAR, Order, tsquery
from .relevance import relevance_page

MAX_CATEGORY_ID = 2**31 - 1


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
    category: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        # Each filter matches an expression index of migrations 0002/0004 (runtime is only checked).
        conditions: list[ColumnElement[bool]] = []
        if self.genre:
            if "\x00" in self.genre:
                return [false()]  # no stored genre holds a NUL, and PostgreSQL JSONB cannot either
            conditions.append(_genre_condition(self.genre))
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
        if self.category is not None:
            if not 0 < self.category <= MAX_CATEGORY_ID:
                return [false()]
            conditions.append(_in_category(self.category))
        return conditions

    def canonical(self) -> bytes:
        """The filters as bytes, equal for equal filters (cursors are bound to them)."""
        return orjson.dumps({name: str(value) for name, value in vars(self).items() if value is not None})


def _genre_condition(value: str) -> ColumnElement[bool]:
    """`a,b`: all of them, `a|b`: any of them (as TMDB's with_genres), each an id or a name.

    A canonical genre is matched by its id; another name by its key, as the importer keeps unknown
    names (see genres.genre_keys). One containment test per alternative, on the GIN index.
    """
    alternatives = []
    for alternative in value.split("|"):
        terms = [term for term in alternative.split(",") if term.strip()]
        if terms:
            keys = [canonical_genre(term) or genre_key(term) for term in terms]
            alternatives.append(GENRE_KEYS.contains(keys))
    return or_(*alternatives) if alternatives else false()


def _in_category(category_id: int) -> ColumnElement[bool]:
    """Linked to the category or to any category below it."""
    subtree = select(Category.id, array([Category.id]).label("path")).where(Category.id == category_id)
    subtree = subtree.cte("subtree", recursive=True)
    # The path stops the walk at a cycle inserted by hand.
    children = (
        select(Category.id, func.array_append(subtree.c.path, Category.id))
        .join(subtree, Category.parent_id == subtree.c.id)
        .where(func.array_position(subtree.c.path, Category.id).is_(None))
    )
    subtree = subtree.union_all(children)
    return exists().where(
        movie_categories.c.tenant == literal_column("movies.tenant"),
        movie_categories.c.tmdb_id == literal_column("movies.tmdb_id"),
        movie_categories.c.category_id.in_(select(subtree.c.id)),
    )


class MovieRepository:
    """One tenant's movies."""

    def __init__(self, session: AsyncSession, tenant: str) -> None:
        self.session = session
        self.tenant = tenant

    async def get(self, tmdb_id: int) -> Movie | None:
        return await self.session.get(Movie, (self.tenant, tmdb_id), options=[selectinload(Movie.categories)])

    def list_statement(
        self, filters: MovieFilters, order: Order | None = None, *, limit: int, offset: int = 0, after: tuple = ()
    ) -> Select:
        """Movies, with their sort key as a second column; `after`: the (key, tmdb_id) a page ended at."""
        if order is not None and order.name == "relevance" and filters.search is not None:
            others = [Movie.tenant == self.tenant, *replace(filters, search=None).conditions()]
            return relevance_page(others, filters.search, limit=limit, offset=offset, after=after)
        key = order.key if order is not None and order.key is not None else Movie.tmdb_id
        descending = order is not None and order.descending
        statement = (
            select(Movie, key.label("sort_key"))
            .options(selectinload(Movie.categories))  # one more statement per page, whatever its size
            .where(Movie.tenant == self.tenant, *filters.conditions())
        )
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
