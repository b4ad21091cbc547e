"""Listing runs a fixed number of SQL statements, however many movies the page holds."""

import contextlib

from sqlalchemy import event

from .factories import catalog_csv, movie


@contextlib.contextmanager
def count_statements(engine):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_listing_one_or_a_hundred_movies_costs_the_same_statements(client, engine):
    rows = [movie(i) for i in range(1, 202)]
    assert (
        await client.post("/reload?tenant=counted", files={"file": ("c.csv", catalog_csv(rows))})
    ).status_code == 200

    counts = {}
    for limit in (1, 100):
        with count_statements(engine) as statements:
            response = await client.get(
                "/movies", params={"tenant": "counted", "limit": limit}, headers={"Accept-Language": "vi"}
            )
        movies = response.json()
        assert len(movies) == limit
        assert all(m["categories"] == [{"id": 3, "name": "Comedy"}, {"id": 32, "name": "Music"}] for m in movies)
        assert all(m["genres"] == ["Phim Hài", "Phim Nhạc"] for m in movies)
        counts[limit] = len(statements)
    # SAVEPOINT (the test's transaction), the tenant and timeouts (db.ScopedSession), the tenant's
    # data version, the page, the page's categories (one statement for all its movies), ROLLBACK
    # TO SAVEPOINT; genre names need none.
    assert counts == {1: 6, 100: 6}
