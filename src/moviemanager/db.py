"""Declarative base, database URLs, engine and session factories, and opening the database."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, MetaData, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction
from sqlalchemy.pool import NullPool

from .config import Settings
from .embedded import EmbeddedPostgres, start_embedded
from .migrations import upgrade_to_head
from .migrations.tenant_isolation import APP_ROLE
from .tenancy import is_valid_tenant_name

# Deterministic constraint names, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def async_url(url: str | URL) -> URL:
    """Accept postgresql://, postgres:// or postgresql+asyncpg:// and use asyncpg."""
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, not {parsed.get_backend_name()!r}")
    return parsed.set(drivername="postgresql+asyncpg")


def app_url(owner_url: str | URL, settings: Settings) -> URL:
    """The URL requests are served with: MOVIEMANAGER_APP_DATABASE_URL, else the owner's URL
    logging in as the app role instead (no password: trust or peer authentication, as embedded)."""
    if settings.app_database_url:
        return async_url(settings.app_database_url)
    password = settings.app_role_password.get_secret_value() if settings.app_role_password else None
    return async_url(owner_url).set(username=APP_ROLE, password=password)


async def set_app_role_password(owner_url: URL, password: str) -> None:
    """Give the app role its password, for servers that ask for one; run as the owner."""
    engine = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            quote = text("SELECT format('ALTER ROLE %I PASSWORD %L', CAST(:role AS text), CAST(:password AS text))")
            statement = await conn.scalar(quote, {"role": APP_ROLE, "password": password})
            await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()


def create_engine(url: str | URL, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=True,
        # JSONB documents decoded by orjson: a list page decodes a hundred of them.
        json_deserializer=orjson.loads,
        # asyncpg waits 60 s for a connection by default: a database that does not answer must
        # not hold a request longer than the pool timeout before it gets its 503.
        connect_args={"timeout": settings.db_pool_timeout},
    )


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """Limits set on every transaction, in seconds; 0: none."""

    statement: float
    lock: float
    # An import's COPY lasts as long as the file takes to parse: minutes for millions of rows.
    import_statement: float
    # How long a reload waits for another reload of its tenant before answering 409.
    reload_wait: float

    @classmethod
    def from_settings(cls, settings: Settings) -> "Timeouts":
        return cls(
            statement=settings.db_statement_timeout,
            lock=settings.db_lock_timeout,
            import_statement=settings.import_statement_timeout,
            reload_wait=settings.reload_lock_timeout,
        )


def as_interval(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


class ScopedSession(Session):
    """A session whose every transaction starts by naming its tenant and its timeouts.

    The scope comes from `session.info` (see UnitOfWork.for_tenant). SET LOCAL and
    set_config(…, true) last until the transaction ends, so nothing leaks to the next user of a
    pooled connection. The tenant is set with SET LOCAL: on a distributed database (docs/scaling.md)
    only a SET statement reaches the nodes that hold the rows, a set_config() call does not.
    """


SCOPE_TIMEOUTS = text(
    "SELECT set_config('statement_timeout', :statement_timeout, true), set_config('lock_timeout', :lock_timeout, true)"
)


def set_local_tenant(tenant: str | None) -> str:
    """`SET LOCAL app.tenant = '…'` for a valid tenant name, or '' (no tenant: no tenant row).

    SET takes no bind parameters, so the name is a literal: checked against the tenant name
    pattern (letters, digits, _ and -) and quoted, though the pattern leaves nothing to escape."""
    name = tenant or ""
    if name and not is_valid_tenant_name(name):
        raise ValueError(f"not a tenant name: {name!r}")
    return "SET LOCAL app.tenant = '" + name.replace("'", "''") + "'"


@event.listens_for(ScopedSession, "after_begin")
def _scope_transaction(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    if transaction.nested:
        return  # a savepoint inherits its transaction's settings
    info = session.info
    timeouts: Timeouts = info["timeouts"]
    if info.get("read_only_snapshot") and not connection.in_nested_transaction():
        # Before any query; inside an enclosing transaction (the tests'), that one's isolation applies.
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    connection.exec_driver_sql(set_local_tenant(info.get("tenant")))
    statement = timeouts.import_statement if info.get("importing") else timeouts.statement
    connection.execute(
        SCOPE_TIMEOUTS, {"statement_timeout": as_interval(statement), "lock_timeout": as_interval(timeouts.lock)}
    )


def create_sessionmaker(
    bind: AsyncEngine | AsyncConnection, settings: Settings, *, info: dict[str, Any] | None = None, **options: Any
) -> async_sessionmaker:
    """Sessions whose `info` holds the timeouts and `info`'s items (UnitOfWork adds its scope)."""
    return async_sessionmaker(
        bind,
        expire_on_commit=False,
        sync_session_class=ScopedSession,
        info={"timeouts": Timeouts.from_settings(settings), **(info or {})},
        **options,
    )


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Connect to DATABASE_URL, or start the embedded server; migrate as the owner; yield an
    engine that logs in as the app role.

    On exit the engine is disposed and an embedded server stopped.
    """
    embedded: EmbeddedPostgres | None = None
    if settings.database_url:
        url = async_url(settings.database_url)
    else:
        embedded, url = await start_embedded(settings.embedded_pgdata)
    try:
        if settings.migrate_on_start:
            await upgrade_to_head(url)
            if settings.app_role_password:
                await set_app_role_password(url, settings.app_role_password.get_secret_value())
        engine = create_engine(app_url(url, settings), settings)
        try:
            yield engine
        finally:
            await engine.dispose()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
