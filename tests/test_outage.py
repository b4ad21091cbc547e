"""A database that is down, restarting or drops a connection: 503 with Retry-After within the
pool timeout, never a 500 or a hang, and the next request after it is back succeeds."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from moviemanager.app import create_app, serving
from moviemanager.database_errors import database_unavailable
from moviemanager.db import create_engine
from moviemanager.read_pool import TenantConnection
from moviemanager.tenants.repository import TenantRepository

from .conftest import ADMIN, dsn
from .factories import catalog_csv, movie
from .test_serve import free_port


def client_for(app) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=ADMIN)


@contextlib.asynccontextmanager
async def own_app(settings, database_url: str) -> AsyncIterator[FastAPI]:
    settings = settings.model_copy(update={"database_url": database_url, "db_pool_timeout": 1.0})
    engine = create_engine(database_url, settings)
    app = create_app(settings)
    try:
        async with serving(app, engine):
            yield app
    finally:
        await engine.dispose()


def assert_unavailable(response: httpx.Response, secret_bits: list[str]) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {"detail": "The database is unavailable right now. Retry in a moment."}
    for bit in secret_bits:
        assert bit not in response.text


@pytest.mark.parametrize("where", ["tcp", "unix-socket"])
async def test_a_database_that_refuses_connections_is_a_503_within_the_timeout(settings, tmp_path, where):
    port = free_port()  # nothing listens there, nor on a socket in an empty directory
    host = f"127.0.0.1:{port}" if where == "tcp" else ""
    query = f"?host={tmp_path}&port={port}" if where == "unix-socket" else ""
    files = {"file": ("c.csv", catalog_csv([movie(1)]), "text/csv")}
    async with own_app(settings, f"postgresql://mm:s3cret@{host}/gone{query}") as app, client_for(app) as client:
        started = time.monotonic()
        for request in (
            client.get("/tenants"),
            client.get("/movies", params={"tenant": "a"}),
            client.get("/movies.csv", params={"tenant": "a"}),
            client.post("/reload", params={"tenant": "a"}, files=files),
        ):
            assert_unavailable(await asyncio.wait_for(request, timeout=5), ["s3cret", str(port), "asyncpg"])
        assert time.monotonic() - started < 5
        assert (await client.get("/readyz")).status_code == 503


async def test_a_connection_lost_mid_request_is_a_503_and_the_next_request_reconnects(
    settings, database_url, monkeypatch
):
    list_names = TenantRepository.list_names

    async def list_names_after_losing_the_connection(self):
        pid = await self.session.scalar(text("SELECT pg_backend_pid()"))
        killer = await asyncpg.connect(dsn(database_url))
        try:
            await killer.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await killer.close()
        return await list_names(self)

    url = database_url.render_as_string(hide_password=False)
    async with own_app(settings, url) as app, client_for(app) as client:
        assert (await client.get("/tenants")).status_code == 200
        monkeypatch.setattr(TenantRepository, "list_names", list_names_after_losing_the_connection)
        assert_unavailable(await client.get("/tenants"), [])
        monkeypatch.setattr(TenantRepository, "list_names", list_names)
        assert (await client.get("/tenants")).status_code == 200


async def test_a_read_connection_lost_mid_request_is_a_503_and_the_next_request_reconnects(
    settings, database_url, monkeypatch
):
    def losing_the_connection_first(method):
        async def query(self, *args, **kwargs):
            killer = await asyncpg.connect(dsn(database_url))
            try:
                await killer.execute("SELECT pg_terminate_backend($1)", self.get_server_pid())
            finally:
                await killer.close()
            return await method(self, *args, **kwargs)

        return query

    url = database_url.render_as_string(hide_password=False)
    async with own_app(settings, url) as app, client_for(app) as client:
        assert (await client.get("/movies/1", params={"tenant": "nobody"})).status_code == 404
        for name in ("fetchval", "fetchrow"):  # the data version, the movie
            monkeypatch.setattr(TenantConnection, name, losing_the_connection_first(getattr(asyncpg.Connection, name)))
        assert_unavailable(await client.get("/movies/1", params={"tenant": "nobody"}), [])
        monkeypatch.undo()
        assert (await client.get("/movies/1", params={"tenant": "nobody"})).status_code == 404


async def test_a_read_connection_found_dead_is_replaced_without_an_error(settings, database_url):
    url = database_url.render_as_string(hide_password=False)
    async with own_app(settings, url) as app, client_for(app) as client:
        assert (await client.get("/movies/1", params={"tenant": "nobody"})).status_code == 404
        # The server drops every idle read connection, as a restart does.
        killer = await asyncpg.connect(dsn(database_url))
        try:
            await killer.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE usename = 'moviemanager_app' AND datname = current_database() AND state = 'idle'"
            )
        finally:
            await killer.close()
        for _ in range(3):
            assert (await client.get("/movies/1", params={"tenant": "nobody"})).status_code == 404


async def test_a_failing_query_is_a_500_that_shows_no_sql(app, monkeypatch):
    async def broken(self):
        await self.session.execute(text("SELECT secret_column FROM no_such_table"))

    monkeypatch.setattr(TenantRepository, "list_names", broken)
    async with client_for(app) as client:
        response = await client.get("/tenants")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}


async def test_a_deadlock_broken_by_postgresql_is_a_503_to_retry(app, monkeypatch):
    async def deadlocked(self):
        await self.session.execute(
            text("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = 'deadlock_detected'; END $$")
        )

    monkeypatch.setattr(TenantRepository, "list_names", deadlocked)
    async with client_for(app) as client:
        response = await client.get("/tenants")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "deadlock" not in response.text


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (TimeoutError(), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), True),
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.exceptions.TooManyConnectionsError("too many clients"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
        (DBAPIError("SELECT 1", None, Exception("closed"), connection_invalidated=True), True),
        (ProgrammingError("SELECT x", None, asyncpg.exceptions.UndefinedColumnError("no x")), False),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), False),
        (ValueError("a bug"), False),
        (FileNotFoundError(2, "No such file"), False),
    ],
)
def test_what_counts_as_the_database_being_unavailable(error, unavailable):
    assert database_unavailable(error) is unavailable
