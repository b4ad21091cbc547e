"""Declarative base, database URLs, engine and session factories, and opening the database."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from sqlalchemy import MetaData
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from .config import Settings
from .embedded import EmbeddedPostgres, start_embedded
from .migrations import upgrade_to_head

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


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Connect to DATABASE_URL, or start the embedded server; migrate; yield an engine.

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
        engine = create_engine(url, settings)
        try:
            yield engine
        finally:
            await engine.dispose()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
