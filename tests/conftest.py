"""Every test talks to a real PostgreSQL: the server named by TEST_DATABASE_URL, or an embedded one.

The session creates a scratch database and migrates it as the owner; each test runs, as the app
role (so row-level security applies, as in production), inside a transaction that is rolled back at
the end (the app's sessions join it through savepoints).
"""

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from sqlalchemy import delete, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from moviemanager.accounts import passwords
from moviemanager.app import create_app, serving
from moviemanager.config import PACKAGED_CSV_DIR, Settings
from moviemanager.db import app_url, async_url, create_engine, create_sessionmaker
from moviemanager.embedded import EmbeddedPostgres
from moviemanager.migrations import upgrade_to_head
from moviemanager.models import Tenant
from moviemanager.movies.importing.bulk import BulkMovies
from moviemanager.uow import UnitOfWork

ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


T = TypeVar("T")


class TransactionReads:
    """Reads inside an open transaction of a SQLAlchemy connection (the tests': each test's data
    lives in a transaction that is never committed, which a pool's connections could not see)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        # Concurrent reads (the web page's) take turns on the one connection; the service's pool
        # gives each its own.
        self._turn = asyncio.Lock()

    async def run(self, tenant: str, work: Callable[[asyncpg.Connection], Awaitable[T]], *, fresh: object = None) -> T:
        async with self._turn:
            raw = (await self._connection.get_raw_connection()).driver_connection
            await raw.execute("SELECT set_config('app.tenant', $1, true)", tenant)
            return await work(raw)


@contextlib.asynccontextmanager
async def committing_client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The app over `engine` as the service runs it (its pools, its commits), as the admin sees it."""
    app = create_app(settings)
    async with (
        serving(app, engine),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=ADMIN
        ) as client,
    ):
        yield client


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `unit` every test whose fixtures reach no PostgreSQL: `pytest -m unit` runs them alone."""
    for item in items:
        if "server_url" not in getattr(item, "fixturenames", ()) and not item.get_closest_marker("database"):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest parameters: the tests check the rules, not the cost."""
    monkeypatch.setattr(passwords, "hasher", PasswordHasher.from_parameters(CHEAPEST))


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """A PostgreSQL server we may create databases on."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield async_url(os.environ["TEST_DATABASE_URL"])
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("embedded") / "pgdata")
    url = server.start()
    try:
        yield async_url(url)
    finally:
        server.stop()


async def create_scratch_database(server_url: URL) -> URL:
    name = f"moviemanager_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(dsn(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server_url.set(database=name)


async def drop_database(url: URL) -> None:
    conn = await asyncpg.connect(dsn(url.set(database="postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await conn.close()


def dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def migrated_database(server_url: URL) -> AsyncIterator[URL]:
    """A fresh database migrated to head, dropped on exit."""
    url = await create_scratch_database(server_url)
    try:
        await upgrade_to_head(url)
        yield url
    finally:
        await drop_database(url)


@pytest.fixture(scope="module")
async def own_settings(server_url: URL, settings: Settings) -> AsyncIterator[Settings]:
    """The test settings, pointing at a fresh database of the test module's own, whose commits
    no other module sees (for what needs committed data: the listener, the CLI, the read pool)."""
    async with migrated_database(server_url) as url:
        yield settings.model_copy(update={"database_url": url.render_as_string(hide_password=False)})


@pytest.fixture(scope="module")
async def own_engine(own_settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Connections to the module's database as the app role."""
    engine = create_engine(app_url(own_settings.database_url, own_settings), own_settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def own_owner_engine(own_settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Connections to the module's database as the tables' owner."""
    engine = create_engine(own_settings.database_url, own_settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def database_url(server_url: URL) -> AsyncIterator[URL]:
    """The session's database; tests roll back, so they share it."""
    async with migrated_database(server_url) as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: URL) -> Settings:
    # Every value the tests depend on is given, so the developer's environment cannot change them.
    return Settings(
        database_url=database_url.render_as_string(hide_password=False),
        csv_dir=PACKAGED_CSV_DIR,
        load_defaults=False,
        migrate_on_start=False,
        cors_origins=["*"],
        cursor_secret="test-cursor-secret",
        admin_token=ADMIN_TOKEN,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Connections as the app role, like the service's."""
    engine = create_engine(app_url(settings.database_url, settings), settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def owner_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Connections as the tables' owner (a superuser here), for setting up and cleaning up."""
    engine = create_engine(settings.database_url, settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """The test's own transaction, rolled back when the test ends."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


@pytest.fixture
def sessions(connection: AsyncConnection, settings: Settings) -> async_sessionmaker[AsyncSession]:
    """Sessions inside the test's transaction: their commits release savepoints only."""
    return create_sessionmaker(connection, settings, join_transaction_mode="create_savepoint")


@pytest.fixture
def uow(sessions: async_sessionmaker[AsyncSession]) -> UnitOfWork:
    return UnitOfWork(sessions)


@pytest.fixture
def app(
    settings: Settings, engine: AsyncEngine, connection: AsyncConnection, sessions: async_sessionmaker[AsyncSession]
):
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.read_pool = TransactionReads(connection)
    return app


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    """The app as the admin sees it: writes carry the admin token (auth tests use bare requests)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=ADMIN) as client:
        yield client


@pytest.fixture
async def bare(app) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends no token unless told to."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


async def remove_tenant(owner_engine: AsyncEngine, tenant: str) -> None:
    """Drop a committed tenant: its partition, what its imports wrote beside it, and its row."""
    async with create_sessionmaker(owner_engine, Settings.model_construct())() as session:
        if partition := await BulkMovies(session, tenant).current_partition():
            await session.execute(text(f'DROP TABLE "{partition}"'))
        for table in ("category_counts", "genre_names", "facet_counts"):
            await session.execute(text(f"DELETE FROM {table} WHERE tenant = :tenant"), {"tenant": tenant})
        await session.execute(delete(Tenant).where(Tenant.name == tenant))
        await session.commit()


@pytest.fixture
async def committed(engine, owner_engine, settings):
    """Sessions (as the app role) that really commit, so that imports can open connections of
    their own, and a tenant name removed again afterwards."""
    sessions = create_sessionmaker(engine, settings)
    tenant = f"committed_{uuid.uuid4().hex[:8]}"
    yield sessions, tenant
    await remove_tenant(owner_engine, tenant)
