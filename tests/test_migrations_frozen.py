"""Migrations are frozen: each carries its own copy of what it needs, and the copies that the app
must still agree with are checked against the app's."""

from types import ModuleType

from alembic.script import ScriptDirectory
from sqlalchemy import text

from moviemanager.migrations import alembic_config
from moviemanager.models import RATING_KEY, YEAR_KEY
from moviemanager.movies.genres import ALIASES

# Each sort-key index and the models' expressions it must be built on.
SORT_KEY_INDEXES = {
    "ix_movies_year": [YEAR_KEY],
    "ix_movies_rating": [RATING_KEY],
    "ix_movies_year_rating": [YEAR_KEY, RATING_KEY],
}
# An index's definition from USING on: the same for equal expressions on any table.
INDEX_BODY = "SELECT substring(pg_get_indexdef(CAST(:name AS regclass)) FROM 'USING .*')"


async def test_the_sort_key_indexes_are_built_on_the_models_expressions(connection):
    """Migration 0006 built them on its own copy of YEAR_KEY and RATING_KEY; the app's sort queries
    must match what the database has, so models.py and the database are compared here (as
    PostgreSQL parses both), whichever revision built the indexes last."""
    await connection.execute(text("CREATE TEMPORARY TABLE sort_keys (data jsonb, tmdb_id bigint)"))
    for name, keys in SORT_KEY_INDEXES.items():
        expressions = ", ".join(f"({key})" for key in keys)
        await connection.execute(text(f"CREATE INDEX {name}_expected ON sort_keys ({expressions}, tmdb_id)"))
        expected = await connection.scalar(text(INDEX_BODY), {"name": f"{name}_expected"})
        assert await connection.scalar(text(INDEX_BODY), {"name": name}) == expected, name


def migration(revision: str) -> ModuleType:
    """A revision's module, loaded as Alembic loads it."""
    return ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_revision(revision).module


def test_0003b_knows_the_genres_by_the_parsers_keys():
    """0003b gave stored movies the canonical ids the parser gives them. Equal while the canonical
    genres are 0003's: a later revision that adds a genre adds its keys to movies/genres.ALIASES,
    not to 0003b (compare 0003b's with the keys of 0003's genres then)."""
    assert migration("0003b").ALIASES == ALIASES
