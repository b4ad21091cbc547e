from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, Select, false, func, literal_column, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Movie
from .csv_import import YEAR_RANGE
from .genres import genre_key

# Written exactly as the indexes' expressions, keys inline (a bound key would not match the index).
GENRE_KEYS = literal_column("movies.data -> 'genre_keys'", type_=JSONB)
YEAR = literal_column("(movies.data ->> 'year')::integer", type_=Integer)


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
            conditions.append(self.year == YEAR)
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
