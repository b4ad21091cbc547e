"""Migrations are frozen: each carries its own copy of what it needs, and the copies that the app
must still agree with are checked against the app's."""

import ast
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from alembic.script import ScriptDirectory
from sqlalchemy import text

from moviemanager import migrations
from moviemanager.migrations import alembic_config
from moviemanager.models import GENRE_KEYS, RATING_KEY, RUNTIME_KEY, YEAR_KEY
from moviemanager.movies.genres import ALIASES

MIGRATIONS = Path(migrations.__file__).parent
# What a migration may import besides the standard library: Alembic, SQLAlchemy, and the helpers
# of migrations/ that are frozen themselves (each says so in its docstring, and is checked here too).
ALLOWED_PACKAGES = {"alembic", "sqlalchemy"}
FROZEN_HELPERS = {"moviemanager.migrations.tenant_isolation"}


def imported_names(source: str) -> Iterator[str]:
    """Every name a module's source imports, wherever the import is: `a.b` for `import a.b`,
    `a.b.c` for `from a.b import c`, `..a.b` for `from ..a import b`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            prefix = "." * node.level + (f"{node.module}." if node.module else "")
            yield from (prefix + alias.name for alias in node.names)


def allowed(name: str) -> bool:
    top = name.split(".")[0]
    frozen = any(name == helper or name.startswith(helper + ".") for helper in FROZEN_HELPERS)
    return top in sys.stdlib_module_names or top in ALLOWED_PACKAGES or frozen


def application_imports(paths: list[Path]) -> dict[str, list[str]]:
    """The imports of each file that are neither the standard library, Alembic, SQLAlchemy nor a frozen helper."""
    found = {path.name: [name for name in imported_names(path.read_text()) if not allowed(name)] for path in paths}
    return {name: imports for name, imports in found.items() if imports}


def test_migrations_import_no_application_code():
    """A migration that imports the app's code would do something else on a fresh database when
    that code changes, and fail to load when it moves."""
    helpers = [MIGRATIONS / f"{name.rsplit('.', 1)[1]}.py" for name in FROZEN_HELPERS]
    versions = sorted((MIGRATIONS / "versions").glob("*.py"))
    assert len(versions) >= 12 and all(helper.exists() for helper in helpers)
    assert application_imports(versions + helpers) == {}


def test_the_import_check_finds_the_apps_code_and_third_party_packages():
    source = """
import orjson
import sqlalchemy as sa
from collections.abc import Sequence
from moviemanager.migrations.tenant_isolation import APP_ROLE
from moviemanager.models import YEAR_KEY
from moviemanager.migrations import tenant_isolation, env


def upgrade():
    from moviemanager.movies import search
    from . import helpers
"""
    found = {name for name in imported_names(source) if not allowed(name)}
    assert found == {
        "orjson",
        "moviemanager.models.YEAR_KEY",
        "moviemanager.migrations.env",
        "moviemanager.movies.search",  # inside a function
        ".helpers",  # relative
    }


# The keys PostgreSQL computes from each movie's document, as models.py defines them.
GENERATED_KEYS = {
    "year_key": ("integer", YEAR_KEY),
    "rating_key": ("numeric", RATING_KEY),
    "runtime_minutes": ("integer", RUNTIME_KEY),
    "genre_keys": ("jsonb", GENRE_KEYS),
}
GENERATION = """
    SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
    JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
    WHERE d.adrelid = CAST(:table AS regclass) AND a.attname = :column"""


async def test_the_generated_keys_are_the_models_expressions(connection):
    """Migration 0013 generated them from its own copies of these expressions;
    the app's filters and sorts must mean what the database computes, so models.py and the
    database are compared here (as PostgreSQL parses both), whichever revision set them last."""
    definitions = ", ".join(
        f"{name} {type_} GENERATED ALWAYS AS ({key}) STORED" for name, (type_, key) in GENERATED_KEYS.items()
    )
    await connection.execute(text(f"CREATE TEMPORARY TABLE expected_keys (data jsonb, {definitions})"))
    for name in GENERATED_KEYS:
        expected = await connection.scalar(text(GENERATION), {"table": "expected_keys", "column": name})
        assert await connection.scalar(text(GENERATION), {"table": "movies", "column": name}) == expected, name


def migration(revision: str) -> ModuleType:
    """A revision's module, loaded as Alembic loads it."""
    return ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_revision(revision).module


def test_0003b_knows_the_genres_by_the_parsers_keys():
    """0003b gave stored movies the canonical ids the parser gives them. Equal while the canonical
    genres are 0003's: a later revision that adds a genre adds its keys to movies/genres.ALIASES,
    not to 0003b (compare 0003b's with the keys of 0003's genres then)."""
    assert migration("0003b").ALIASES == ALIASES
