"""Listing runs a fixed number of SQL statements, however many movies the page holds."""

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncConnection

from moviemanager.movies.reading.page_cache import PageCache
from moviemanager.movies.reading.views import Caches

from ...factories import catalog_csv, movie


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
    # test_committed), the data version (is the page cached?), then one statement: version,
    # movies, categories and genre names together.
    assert counts == {1: 3, 100: 3}

    async with count_statements(connection) as statements:
        cached = await client.get(
            "/movies", params={"tenant": "counted", "limit": 100}, headers={"Accept-Language": "vi"}
        )
    assert cached.content == response.content
    assert len(statements) == 2, statements  # the scope, the version: the body was in the page cache

    async with count_statements(connection) as statements:
        again = await client.get(
            "/movies",
            params={"tenant": "counted", "limit": 100},
            headers={"Accept-Language": "vi", "If-None-Match": response.headers["ETag"]},
        )
    assert again.status_code == 304
    assert len(statements) == 2  # the scope, the version: no movie is read


async def test_without_the_page_cache_a_page_is_one_statement(client, connection, app):
    app.state.caches = Caches(app.state.caches.versions, PageCache(0))
    assert (
        await client.post("/reload?tenant=counted", files={"file": ("c.csv", catalog_csv([movie(1)]))})
    ).status_code == 200
    for _ in range(2):
        async with count_statements(connection) as statements:
            assert (await client.get("/movies", params={"tenant": "counted"})).status_code == 200
        assert len(statements) == 2  # the scope (see above), the page


async def test_a_page_after_a_cursor_comes_from_the_page_cache_the_second_time(client, connection):
    files = {"file": ("c.csv", catalog_csv([movie(i) for i in range(1, 31)]))}
    assert (await client.post("/reload?tenant=counted", files=files)).status_code == 200
    first = await client.get("/movies", params={"tenant": "counted", "limit": 10, "sort": "-rating"})
    next_url = first.headers["Link"][1 : first.headers["Link"].index(">")]
    second = await client.get(next_url)
    async with count_statements(connection) as statements:
        again = await client.get(next_url)
    assert again.content == second.content and again.headers["Link"] == second.headers["Link"]
    assert len(statements) == 2, statements  # the scope, the version
