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
            response = await client.get("/movies", params={"tenant": "counted", "limit": limit})
        assert len(response.json()) == limit
        counts[limit] = len(statements)
    # SAVEPOINT (the test's transaction), the tenant and timeouts (db.ScopedSession), tenant check, the page,
    # the total, ROLLBACK TO SAVEPOINT
    assert counts == {1: 6, 100: 6}
