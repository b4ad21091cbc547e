"""Migrations go up, down and up again, and match the ORM models."""

import asyncio

import orjson
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from moviemanager.db import Base, create_engine
from moviemanager.migrations import (
    alembic_config,
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
            assert await conn.scalar(text("SELECT count(*) FROM categories")) == 37

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


async def test_new_categories_get_ids_after_the_seeded_ones(connection):
    new_id = await connection.scalar(text("INSERT INTO categories (name) VALUES ('Anime') RETURNING id"))
    assert new_id > 37  # sequences are not rolled back: other tests may have taken ids


async def test_upgrade_keeps_the_movies_of_a_first_version_database(server_url, settings):
    url = await create_scratch_database(server_url)
    engine = create_engine(url, settings)
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0001")
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO tenants (name) VALUES ('movies'), ('tv_serials')"))
            await conn.execute(
                text(
                    """INSERT INTO movies (tenant, tmdb_id, data) VALUES
                    ('movies', 1, '{"movie_name": "A", "genres": ["Crime"], "year": 2001}'),
                    ('tv_serials', 1, '{"movie_name": "B", "genres": [], "year": 2002}')"""
                )
            )
        await upgrade_to_head(url)
        async with engine.connect() as conn:
            movies = await conn.execute(text("SELECT tenant, tmdb_id, data ->> 'movie_name' FROM movies ORDER BY 1"))
            assert movies.all() == [("movies", 1, "A"), ("tv_serials", 1, "B")]
            partitions = await conn.scalars(
                text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'movies'::regclass")
            )
            assert partitions.one() == 2
    finally:
        await engine.dispose()
        await drop_database(url)


async def test_upgrade_links_and_counts_the_movies_already_loaded(server_url, settings):
    url = await create_scratch_database(server_url)
    engine = create_engine(url, settings)
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0002")
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO tenants (name) VALUES ('old')"))
            await conn.execute(text("""CREATE TABLE "movies__old__x" PARTITION OF movies FOR VALUES IN ('old')"""))
            await conn.execute(
                text(
                    """
                    INSERT INTO movies (tenant, tmdb_id, checksum, data) VALUES
                    ('old', 1, 7, '{"genres": ["Phim Hài", "Phim Bollywood"],
                                    "genre_keys": ["phim hai", "phim bollywood"]}'),
                    ('old', 2, 7, '{"genres": ["Crime"], "genre_keys": ["crime"]}'),
                    ('old', 3, 7, '{"genres": [], "genre_keys": []}')
                    """
                )
            )
        await upgrade_to_head(url)
        async with engine.connect() as conn:
            keys = await conn.execute(text("SELECT data -> 'genre_keys', checksum FROM movies ORDER BY tmdb_id"))
            assert keys.all() == [([35, "phim bollywood"], None), ([80], None), ([], None)]
            links = await conn.execute(text("SELECT tmdb_id, category_id FROM movie_categories ORDER BY 1, 2"))
            assert links.all() == [(1, 3), (2, 18)]
            counts = await conn.execute(
                text("SELECT category_id, movie_count, total_count FROM category_counts ORDER BY 1")
            )
            assert counts.all() == [(1, 0, 1), (3, 1, 1), (6, 0, 1), (18, 1, 1)]

        await downgrade_to_base(url)  # through 0003b's downgrade with data in place: no error
    finally:
        await engine.dispose()
        await drop_database(url)


async def test_0004_gives_movies_stored_before_it_their_search_texts(server_url, settings):
    url = await create_scratch_database(server_url)
    engine = create_engine(url, settings)
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0002")
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO tenants (name) VALUES ('old')"))
            await conn.execute(text("CREATE TABLE movies__old__m0 PARTITION OF movies FOR VALUES IN ('old')"))
            await conn.execute(
                text("INSERT INTO movies (tenant, tmdb_id, checksum, data) VALUES ('old', 7, 1, CAST(:data AS jsonb))"),
                {"data": '{"movie_name": "Hài Hước", "original_title": "Funny", "overview": "Đêm trắng."}'},
            )
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0009")  # 0010 moves the texts
        async with engine.connect() as conn:
            data, checksum, title_words = (
                await conn.execute(text("SELECT data, checksum, (data ->> 'title_words')::tsvector::text FROM movies"))
            ).one()
            found = await conn.scalar(
                text("SELECT count(*) FROM movies WHERE (data ->> 'search_words')::tsvector @@ 'dem & hai:*'::tsquery")
            )
        assert data["sort_title"] == "hai huoc" and title_words == "'funny' 'hai' 'huoc'"
        assert "search_title" not in data
        assert checksum is None and found == 1
    finally:
        await engine.dispose()
        await drop_database(url)


# The stored words (0004-0009: keys of the data) as tsvector prints them: sorted, quoted.
AS_LEXEMES = "(data ->> 'title_words')::tsvector::text, (data ->> 'search_words')::tsvector::text"


async def test_0007_gives_stored_movies_title_words_and_takes_them_back(server_url, settings):
    url = await create_scratch_database(server_url)
    engine = create_engine(url, settings)
    stored = {"movie_name": "Hài Hước", "original_title": "Funny", "overview": "Đêm trắng.", "sort_title": "hai huoc"}
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0006")
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO tenants (name) VALUES ('old')"))
            await conn.execute(text("CREATE TABLE movies__old__m0 PARTITION OF movies FOR VALUES IN ('old')"))
            await conn.execute(
                text("INSERT INTO movies (tenant, tmdb_id, checksum, data) VALUES ('old', 7, 1, CAST(:data AS jsonb))"),
                {"data": orjson.dumps({**stored, "search_title": "hai huoc funny", "search_words": "'x'"}).decode()},
            )
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0009")
        async with engine.connect() as conn:
            data, checksum, title_words, search_words = (
                await conn.execute(text(f"SELECT data, checksum, {AS_LEXEMES} FROM movies"))
            ).one()
        assert title_words == "'funny' 'hai' 'huoc'" and "search_title" not in data and checksum is None
        assert search_words == "'dem' 'funny' 'hai' 'huoc' 'trang'"

        await asyncio.to_thread(command.downgrade, alembic_config(url), "0006")
        async with engine.connect() as conn:
            data = await conn.scalar(text("SELECT data FROM movies"))
        assert data["search_title"] == "hai huoc funny" and "title_words" not in data
    finally:
        await engine.dispose()
        await drop_database(url)
