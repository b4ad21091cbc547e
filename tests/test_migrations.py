"""Migrations go up, down and up again, and match the ORM models."""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import orjson
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import URL, text
from sqlalchemy.ext.asyncio import AsyncEngine

from moviemanager.config import Settings
from moviemanager.db import Base, create_engine
from moviemanager.migrations import (
    alembic_config,
    current_revision,
    head_revision,
    include_name,
    upgrade_to_head,
)
from moviemanager.migrations.tenant_isolation import isolation_statements
from moviemanager.movies.reading.filters import MovieFilters
from moviemanager.movies.reading.ordering import SEARCH_VECTOR_SQL, TITLE_SQL, TITLE_WORDS_SQL
from moviemanager.movies.reading.statements import Listing, page_statement
from moviemanager.movies.search import DERIVED_KEYS, search_texts, tsquery_text

from .conftest import create_scratch_database, drop_database
from .movies.test_search_texts import lexemes


async def downgrade_to_base(url: str | URL) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")


@contextlib.asynccontextmanager
async def scratch_database(server_url: URL, settings: Settings) -> AsyncIterator[tuple[URL, AsyncEngine]]:
    """An empty database of the test's own and an engine on it, both gone on exit."""
    url = await create_scratch_database(server_url)
    engine = create_engine(url, settings)
    try:
        yield url, engine
    finally:
        await engine.dispose()
        await drop_database(url)


async def test_upgrade_downgrade_upgrade(server_url, settings):
    async with scratch_database(server_url, settings) as (url, engine):
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


async def test_models_match_the_migrations(connection):
    def diff(sync_connection):
        context = MigrationContext.configure(sync_connection, opts={"include_name": include_name})
        return compare_metadata(context, Base.metadata)

    assert await connection.run_sync(diff) == []


async def test_new_categories_get_ids_after_the_seeded_ones(connection):
    new_id = await connection.scalar(text("INSERT INTO categories (name) VALUES ('Anime') RETURNING id"))
    assert new_id > 37  # sequences are not rolled back: other tests may have taken ids


async def test_upgrade_keeps_the_movies_of_a_first_version_database(server_url, settings):
    async with scratch_database(server_url, settings) as (url, engine):
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


async def test_upgrade_links_and_counts_the_movies_already_loaded(server_url, settings):
    async with scratch_database(server_url, settings) as (url, engine):
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
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0010")  # 0011 drops the links
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


async def test_0004_gives_movies_stored_before_it_their_search_texts(server_url, settings):
    async with scratch_database(server_url, settings) as (url, engine):
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


# The stored words (0004-0009: keys of the data) as tsvector prints them: sorted, quoted.
AS_LEXEMES = "(data ->> 'title_words')::tsvector::text, (data ->> 'search_words')::tsvector::text"
# The same from 0010's columns.
WORDS = "title_words::text, search_words::text"


async def test_0007_gives_stored_movies_title_words_and_takes_them_back(server_url, settings):
    stored = {"movie_name": "Hài Hước", "original_title": "Funny", "overview": "Đêm trắng.", "sort_title": "hai huoc"}
    async with scratch_database(server_url, settings) as (url, engine):
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


async def test_0010_moves_the_search_texts_into_columns_and_answers_as_before(server_url, settings):
    titles = [("Bóng Ma", "Ghost", "Một bóng ma."), ("Ma Trận", "The Matrix", "Neo."), ("Đêm Trắng", None, "Bóng ma.")]
    titles += [("Bông Hồng", "Rose", None), ("bong ma \\ 2", "Ghost 2", "Ma.")]
    movies = {}
    for tmdb_id, (name, original, overview) in enumerate(titles, start=1):
        data = {"movie_name": name, "original_title": original, "overview": overview, "genres": [], "genre_keys": []}
        sort_title, title_words, search_words = search_texts(data)
        movies[tmdb_id] = {**data, "sort_title": sort_title, "title_words": lexemes(title_words)}
        movies[tmdb_id]["search_words"] = lexemes(search_words)  # as 0009's importer stored them
    listings = [
        (Listing(filters=MovieFilters(), sort="title", limit=2), ()),
        (Listing(filters=MovieFilters(), sort="-title", limit=10), ()),
        (Listing(filters=MovieFilters(), sort="title", limit=2), ("bong ma", 1)),  # a cursor's page
        (Listing(filters=MovieFilters(search=tsquery_text(["ma"])), limit=10), ()),  # by relevance
        (Listing(filters=MovieFilters(search=tsquery_text(["bong", "m"])), limit=10), ()),
        (Listing(filters=MovieFilters(search=tsquery_text(["ghost"])), sort="tmdb_id", limit=10), ()),
    ]

    async def pages(*, stored_in_data: bool) -> list[list[tuple]]:
        answers = []
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            for listing, after in listings:
                sql, values = page_statement("old", listing, listing.order(), after, None)
                if stored_in_data:  # the same statement on the keys, as 0009's code read them
                    sql = sql.replace(TITLE_SQL, """(movies.data ->> 'sort_title') COLLATE "C\"""")
                    for words in (SEARCH_VECTOR_SQL, TITLE_WORDS_SQL):
                        sql = sql.replace(words, f"((movies.data ->> '{words.split('.')[1]}')::tsvector)")
                rows = await raw.fetch(sql, *values)
                answers.append([(row["tmdb_id"], row["sort_key"], row["body"]) for row in rows])
        return answers

    async with scratch_database(server_url, settings) as (url, engine):
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0009")
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO tenants (name) VALUES ('old')"))
            await conn.execute(text("CREATE TABLE movies__old__m0 PARTITION OF movies FOR VALUES IN ('old')"))
            for tmdb_id, data in movies.items():
                await conn.execute(
                    text("INSERT INTO movies (tenant, tmdb_id, checksum, data) VALUES ('old', :id, 1, :data)"),
                    {"id": tmdb_id, "data": orjson.dumps(data).decode()},
                )
        before = await pages(stored_in_data=True)
        assert [row[0] for row in before[0]] == [4, 1, 5] and len(before[3]) == 4, before

        await upgrade_to_head(url)
        assert await pages(stored_in_data=False) == before
        async with engine.connect() as conn:
            rows = (await conn.execute(text(f"SELECT tmdb_id, data, checksum, sort_title, {WORDS} FROM movies"))).all()
        for tmdb_id, data, checksum, *texts in rows:
            assert data == {key: value for key, value in movies[tmdb_id].items() if key not in DERIVED_KEYS}
            assert texts == [movies[tmdb_id][key] for key in DERIVED_KEYS] and checksum is None

        await asyncio.to_thread(command.downgrade, alembic_config(url), "0009")
        assert await pages(stored_in_data=True) == before
        async with engine.connect() as conn:
            stored = dict((await conn.execute(text("SELECT tmdb_id, data FROM movies"))).all())
        assert stored == movies


# At 0010, two tenants' movies (canonical genre ids, as since 0003b, and an unknown genre's name),
# and the categories GENRE_CATEGORIES of 0003 and 0003b give them: Action & Adventure (10759) is in
# Action (1) and Adventure (7), so movie 2 reaches Action twice. The long name is cut in table names.
LONG_TENANT = "a-tenant-whose-name-is-longer-than-thirty"
GENRE_KEYS = {
    "alpha": {1: [28, 12], 2: [28, 10759], 3: [], 4: [35, "phim bollywood"]},
    LONG_TENANT: {1: [18], 5: [27, 53], 6: []},
}
LINKS = {
    ("alpha", 1, 1), ("alpha", 1, 7), ("alpha", 2, 1), ("alpha", 2, 7), ("alpha", 4, 3),
    (LONG_TENANT, 1, 2), (LONG_TENANT, 5, 4), (LONG_TENANT, 5, 6),
}  # fmt: skip
# What 0010 has and a downgrade from 0011 must give back: 0006's functions, the links table as 0003 made it.
LINKS_SHAPE = [
    "SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid), p.proacl::text FROM pg_proc p"
    " WHERE p.proname IN ('partitions_swap', 'partition_prefix') ORDER BY 1",
    "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute"
    " WHERE attrelid = 'movie_categories'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'movie_categories'::regclass",
    "SELECT indexdef FROM pg_indexes WHERE tablename = 'movie_categories' ORDER BY 1",
    "SELECT pg_get_partkeydef(oid), relrowsecurity, relforcerowsecurity, relacl::text FROM pg_class"
    " WHERE oid = 'movie_categories'::regclass",
    "SELECT polname, polcmd, pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) FROM pg_policy"
    " WHERE polrelid = 'movie_categories'::regclass",
]
# Each partition of movie_categories: its tenant (from its rows), name, bound and isolation.
LINKS_PARTITIONS = """
    SELECT (SELECT DISTINCT tenant FROM movie_categories WHERE tableoid = c.oid), c.relname,
        pg_get_expr(c.relpartbound, c.oid), c.relrowsecurity, c.relforcerowsecurity,
        has_table_privilege('moviemanager_app', c.oid, 'SELECT, INSERT, UPDATE, DELETE'),
        (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid AND polname = 'tenant_isolation')
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'movie_categories'::regclass
"""


async def test_0011_drops_the_links_and_downgrade_derives_them_again(server_url, settings):
    async def links_shape(conn) -> list[list[tuple]]:
        return [(await conn.execute(text(query))).all() for query in LINKS_SHAPE]

    async with scratch_database(server_url, settings) as (url, engine):
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0010")
        async with engine.begin() as conn:  # as a superuser: past row-level security
            for number, (tenant, movies) in enumerate(GENRE_KEYS.items()):
                await conn.execute(text("INSERT INTO tenants (name) VALUES (:tenant)"), {"tenant": tenant})
                for parent in ("movies", "movie_categories"):
                    partition = f'"{parent}__{tenant[:30]}__m{number}"'
                    await conn.execute(
                        text(f"CREATE TABLE {partition} PARTITION OF {parent} FOR VALUES IN ('{tenant}')")
                    )
                    for statement in isolation_statements(partition):
                        await conn.execute(text(statement))
                for tmdb_id, keys in movies.items():
                    await conn.execute(
                        text("INSERT INTO movies (tenant, tmdb_id, data) VALUES (:tenant, :id, :data)"),
                        {"tenant": tenant, "id": tmdb_id, "data": orjson.dumps({"genre_keys": keys}).decode()},
                    )
            await conn.execute(
                text("INSERT INTO movie_categories VALUES (:tenant, :id, :category)"),
                [{"tenant": tenant, "id": tmdb_id, "category": category} for tenant, tmdb_id, category in LINKS],
            )
            # What killed imports left: never attached, so not partitions.
            for parent in ("movies", "movie_categories"):
                await conn.execute(text(f"CREATE TABLE {parent}__alpha__0badf00d (LIKE {parent})"))
            before = await links_shape(conn)

        await asyncio.to_thread(command.upgrade, alembic_config(url), "0011")
        async with engine.connect() as conn:
            gone = await conn.execute(
                text(
                    "SELECT to_regclass('movie_categories'), to_regclass('movie_categories__alpha__0badf00d'),"
                    " to_regclass('movies__alpha__0badf00d') IS NOT NULL"
                )
            )
            assert gone.one() == (None, None, True)  # the importer removes movies' leftovers itself
            swaps = await conn.execute(
                text(
                    "SELECT pronargs, has_function_privilege('moviemanager_app', oid, 'EXECUTE'),"
                    " has_function_privilege('public', oid, 'EXECUTE') FROM pg_proc WHERE proname = 'partitions_swap'"
                )
            )
            assert swaps.all() == [(5, True, False)]

        await asyncio.to_thread(command.downgrade, alembic_config(url), "0010")
        async with engine.connect() as conn:
            links = await conn.execute(text("SELECT tenant, tmdb_id, category_id FROM movie_categories"))
            assert set(links.all()) == LINKS
            partitions = sorted((await conn.execute(text(LINKS_PARTITIONS))).all())
            assert [(tenant, bound, *isolation) for tenant, _, bound, *isolation in partitions] == [
                (tenant, f"FOR VALUES IN ('{tenant}')", True, True, True, 1) for tenant in sorted(GENRE_KEYS)
            ]
            for tenant, name, *_ in partitions:
                assert re.fullmatch(f"movie_categories__{re.escape(tenant[:30])}__[0-9a-f]{{8}}", name), name
            assert await links_shape(conn) == before  # the table, its policy and 0006's functions, as they were
        async with engine.begin() as conn:  # the app role sees its tenant's links only
            await conn.execute(text("SET LOCAL ROLE moviemanager_app"))
            await conn.execute(text("SELECT set_config('app.tenant', 'alpha', true)"))
            seen = await conn.scalars(text("SELECT DISTINCT tenant FROM movie_categories"))
            assert seen.all() == ["alpha"]

        await upgrade_to_head(url)
        async with engine.begin() as conn:  # the importer's swap, as the app role, with five arguments
            old = await conn.scalar(text("SELECT tableoid::regclass::text FROM movies WHERE tenant = 'alpha' LIMIT 1"))
            await conn.execute(text("SET LOCAL ROLE moviemanager_app"))
            await conn.execute(text("SELECT set_config('app.tenant', 'alpha', true)"))
            new = await conn.scalar(text("SELECT partition_create_table('movies', 'alpha', false)"))
            await conn.execute(text(f"""INSERT INTO "{new}" (tenant, tmdb_id, data) VALUES ('alpha', 9, '{{}}')"""))
            await conn.execute(
                text("SELECT partitions_swap('alpha', :old, :new, '1s', '200ms')"), {"old": old, "new": new}
            )
            assert (await conn.scalars(text("SELECT tmdb_id FROM movies"))).all() == [9]
            assert await conn.scalar(text("SELECT to_regclass(:old)"), {"old": old}) is None


# Each tenant's movies as (genre_keys, genres); an explicit category ends the keys with no name beside it.
SPELLED_GENRES = {
    "alpha": [([35, "phim la"], ["Phim Hài", "Phim Lạ"]), ([35], ["Comedy"]), ([27, {"category": 25}], ["Kinh Dị"])],
    LONG_TENANT: [([35], ["Hài"]), ([], [])],
}


async def test_0014_names_each_tenants_genres_from_its_movies(server_url, settings):
    async with scratch_database(server_url, settings) as (url, engine):
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0013")
        async with engine.begin() as conn:  # as a superuser: past row-level security
            for number, (tenant, movies) in enumerate(SPELLED_GENRES.items()):
                await conn.execute(text("INSERT INTO tenants (name) VALUES (:tenant)"), {"tenant": tenant})
                partition = f'"movies__{number}"'
                await conn.execute(text(f"CREATE TABLE {partition} PARTITION OF movies FOR VALUES IN ('{tenant}')"))
                for statement in isolation_statements(partition):
                    await conn.execute(text(statement))
                for tmdb_id, (keys, names) in enumerate(movies, start=1):
                    data = orjson.dumps({"genre_keys": keys, "genres": names}).decode()
                    await conn.execute(
                        text("INSERT INTO movies (tenant, tmdb_id, data) VALUES (:tenant, :id, :data)"),
                        {"tenant": tenant, "id": tmdb_id, "data": data},
                    )

        await asyncio.to_thread(command.upgrade, alembic_config(url), "0014")
        async with engine.begin() as conn:
            names = await conn.execute(text("SELECT tenant, key, name FROM genre_names"))
            assert set(names.all()) == {
                ("alpha", "27", "Kinh Dị"),
                ("alpha", "35", "Comedy"),
                ("alpha", "phim la", "Phim Lạ"),
                (LONG_TENANT, "35", "Hài"),
            }
            await conn.execute(text("SET LOCAL ROLE moviemanager_app"))
            await conn.execute(text("SELECT set_config('app.tenant', :tenant, true)"), {"tenant": LONG_TENANT})
            assert (await conn.scalars(text("SELECT DISTINCT tenant FROM genre_names"))).all() == [LONG_TENANT]

        await asyncio.to_thread(command.downgrade, alembic_config(url), "0013")
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT to_regclass('genre_names')")) is None
