"""Alembic environment: runs migrations over asyncpg, one transaction, one migrator at a time."""

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from moviemanager import models  # noqa: F401  (registers every table on Base.metadata)
from moviemanager.db import Base, async_url
from moviemanager.migrations import include_name

# Any fixed number: two servers starting at once must not both migrate.
MIGRATION_LOCK_KEY = 0x6D6D_6D69

config = context.config
if config.config_file_name and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name)


def database_url():
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit(
            "DATABASE_URL is not set. Point it at your PostgreSQL server, e.g. "
            "DATABASE_URL=postgresql://user@localhost/moviemanager, or run `moviemanager migrate` "
            "to migrate the embedded server."
        )
    return async_url(url)


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=Base.metadata, compare_type=True, include_name=include_name
    )
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(database_url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_online())
