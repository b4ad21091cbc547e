"""Migrations go up, down and up again, and match the ORM models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from moviemanager.db import Base, create_engine
from moviemanager.migrations import (
    current_revision,
    downgrade_to_base,
    head_revision,
    include_name,
    upgrade_to_head,
)

from .conftest import create_scratch_database, drop_database


async def test_upgrade_downgrade_upgrade(server_url, settings):
    url = await create_scratch_database(server_url)
    engine = create_engine(url, settings)
    try:
        await upgrade_to_head(url)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM categories")) == 25

        await downgrade_to_base(url)
        async with engine.connect() as conn:
            tables = await conn.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
            )
            assert list(tables) == []

        await upgrade_to_head(url)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
        await drop_database(url)


async def test_models_match_the_migrations(connection):
    def diff(sync_connection):
        context = MigrationContext.configure(sync_connection, opts={"include_name": include_name})
        return compare_metadata(context, Base.metadata)

    assert await connection.run_sync(diff) == []


async def test_new_categories_get_ids_after_the_seeded_ones(owner_engine):
    async with owner_engine.connect() as connection:  # the app role only reads categories
        new_id = await connection.scalar(text("INSERT INTO categories (name) VALUES ('Documentary') RETURNING id"))
        await connection.rollback()
    assert new_id == 26
