"""Listing runs a fixed number of SQL statements, however many movies the page holds."""

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncConnection

from .factories import catalog_csv, movie


@contextlib.asynccontextmanager
async def count_statements(connection: AsyncConnection):
    """Every statement the test's connection runs (the app's reads run on it too, see conftest)."""
    statements: list[str] = []
    raw = (await connection.get_raw_connection()).driver_connection

    def record(logged) -> None:
        statements.append(logged.query)

    raw.add_query_logger(record)
    try:
        yield statements
    finally:
        await asyncio.sleep(0)  # asyncpg calls loggers soon after each statement, not during it
        raw.remove_query_logger(record)


async def test_listing_one_or_a_hundred_movies_costs_the_same_statements(client, connection):
    rows = [movie(i) for i in range(1, 202)]
    assert (
        await client.post("/reload?tenant=counted", files={"file": ("c.csv", catalog_csv(rows))})
    ).status_code == 200

    counts = {}
    for limit in (1, 100):
        async with count_statements(connection) as statements:
            response = await client.get(
                "/movies", params={"tenant": "counted", "limit": limit}, headers={"Accept-Language": "vi"}
            )
        movies = response.json()
        assert len(movies) == limit
        assert all(m["categories"] == [{"id": 3, "name": "Comedy"}, {"id": 32, "name": "Music"}] for m in movies)
        assert all(m["genres"] == ["Phim Hài", "Phim Nhạc"] for m in movies)
        counts[limit] = len(statements)
    # The tenant's scope (a read-pool connection skips it while it serves the same tenant, see
    # test_committed), then one statement: version, movies, categories and genre names together.
    assert counts == {1: 2, 100: 2}

    async with count_statements(connection) as statements:
        etag = response.headers["ETag"]
        again = await client.get(
            "/movies",
            params={"tenant": "counted", "limit": 100},
            headers={"Accept-Language": "vi", "If-None-Match": etag},
        )
    assert again.status_code == 304
    assert len(statements) == 2  # the scope, the version: no movie is read
