import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, false, func, select
from sqlalchemy.ext.asyncio import AsyncResult, AsyncSession

from ..models import Movie
from .csv_import import MovieRow
from .genres import genre_key


@dataclass(frozen=True, kw_only=True)
class MovieFilters:
    genre: str | None = None
    year: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        # One JSONB containment for every attribute filter, so the GIN index answers them together.
        if self.genre and "\x00" in self.genre:
            return [false()]  # no stored genre holds a NUL, and PostgreSQL JSONB cannot either
        contained: dict[str, Any] = {}
        if self.genre:
            contained["genre_keys"] = [genre_key(self.genre)]
        if self.year is not None:
            contained["year"] = self.year
        return [Movie.data.contains(contained)] if contained else []


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

    async def replace_all(self, rows: Iterable[MovieRow]) -> None:
        """Delete the tenant's movies and COPY the new ones in, inside the current transaction.

        Other transactions keep reading the old set until this one commits (MVCC).
        """
        await self.session.execute(delete(Movie).where(Movie.tenant == self.tenant))
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(
            Movie.__tablename__,
            columns=["tenant", "tmdb_id", "data"],
            records=((self.tenant, row.tmdb_id, json.dumps(row.data, ensure_ascii=False)) for row in rows),
        )

    async def stream_all(
        self, filters: MovieFilters = MovieFilters(), *, batch_size: int = 1000
    ) -> AsyncResult[tuple[int, dict[str, Any]]]:
        """(tmdb_id, data) of every matching movie by TMDB id, fetched `batch_size` rows at a time
        through a server-side cursor, so the catalog is never in memory whole."""
        statement = (
            select(Movie.tmdb_id, Movie.data)
            .where(Movie.tenant == self.tenant, *filters.conditions())
            .order_by(Movie.tmdb_id)
            .execution_options(yield_per=batch_size)
        )
        return await self.session.stream(statement)

    async def extra_columns(self, filters: MovieFilters = MovieFilters()) -> tuple[str, ...]:
        """The CSV columns beyond the seed's that any matching movie has, sorted by name."""
        names = func.jsonb_object_keys(Movie.data["extra"])
        statement = select(names).where(Movie.tenant == self.tenant, *filters.conditions()).distinct()
        # Sorted here, not by the database's collation, so the order is the same on every server.
        return tuple(sorted(await self.session.scalars(statement)))
