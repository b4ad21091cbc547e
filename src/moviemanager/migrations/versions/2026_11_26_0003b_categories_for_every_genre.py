"""Categories for the genres no master category fits; existing movies linked and counted.

Revision ID: 0003b
Revises: 0003
Create Date: 2026-11-26

The master ids 1..25 stay as they are. New categories go where every default tenant has movies
under every root: the genres only some default catalogs use (Western, Music, the TV genres) go
below a root. TV Movie (10770) has no category: no default catalog uses it.

Existing movies (loaded before 0003) get canonical ids in `genre_keys`, their links and their
counts, with the importer's own SQL and genre names: the migration runs the code of its release.
Their checksum is cleared, so their next reload counts them as changed (see 0002).
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from moviemanager.movies.category_counts import counts_insert
from moviemanager.movies.genres import ALIASES, genre_key

revision: str = "0003b"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A movie's categories: those of its canonical genres, each once (the importer's SQL of this release).
LINKS_FROM_MOVIES = """
INSERT INTO {links} (tenant, tmdb_id, category_id)
SELECT DISTINCT movie.tenant, movie.tmdb_id, genre_categories.category_id
FROM {movies} AS movie
CROSS JOIN LATERAL jsonb_array_elements(movie.data -> 'genre_keys') AS genre(key)
JOIN genre_categories ON to_jsonb(genre_categories.genre_id) = genre.key
"""

# (id, name, parent id)
CATEGORIES = [
    (26, "Animation", None),
    (27, "Documentary", None),
    (28, "Family", None),
    (29, "Fantasy", None),
    (30, "Mystery", None),
    (31, "Western", 1),
    (32, "Music", 2),
    (33, "Kids", 28),
    (34, "Reality", 27),
    (35, "Talk Show", 27),
    (36, "News", 27),
    (37, "Soap Opera", 2),
]
# (genre id, category id)
GENRE_CATEGORIES = [
    (16, 26),  # Animation
    (99, 27),  # Documentary
    (10751, 28),  # Family
    (14, 29),  # Fantasy
    (10765, 29),  # Sci-Fi & Fantasy → Fantasy (and Science Fiction, from 0003)
    (9648, 30),  # Mystery
    (37, 31),  # Western
    (10402, 32),  # Music
    (10762, 33),  # Kids
    (10764, 34),  # Reality
    (10767, 35),  # Talk → Talk Show
    (10763, 36),  # News
    (10766, 37),  # Soap → Soap Opera
]


def upgrade() -> None:
    categories = sa.table("categories", sa.column("id"), sa.column("name"), sa.column("parent_id"))
    op.bulk_insert(categories, [{"id": i, "name": name, "parent_id": parent} for i, name, parent in CATEGORIES])
    op.execute("SELECT setval(pg_get_serial_sequence('categories', 'id'), (SELECT max(id) FROM categories))")
    genre_categories = sa.table("genre_categories", sa.column("genre_id"), sa.column("category_id"))
    op.bulk_insert(genre_categories, [{"genre_id": g, "category_id": c} for g, c in GENRE_CATEGORIES])
    # Statistics now: too few rows ever change for autovacuum to analyze them, and without them the
    # planner takes these small tables for big ones when an import links a million movies.
    op.execute("ANALYZE genres, genre_categories, categories")

    op.execute("CREATE TEMPORARY TABLE genre_aliases (key jsonb PRIMARY KEY, id jsonb NOT NULL) ON COMMIT DROP")
    aliases = sa.table("genre_aliases", sa.column("key", sa.JSON), sa.column("id", sa.JSON))
    op.bulk_insert(aliases, [{"key": key, "id": genre_id} for key, genre_id in ALIASES.items()])
    op.execute(
        """
        UPDATE movies SET checksum = NULL, data = jsonb_set(data, '{genre_keys}', (
            SELECT coalesce(jsonb_agg(coalesce(genre_aliases.id, element.key) ORDER BY element.position), '[]')
            FROM jsonb_array_elements(data -> 'genre_keys') WITH ORDINALITY AS element(key, position)
            LEFT JOIN genre_aliases ON genre_aliases.key = element.key
        ))
        WHERE data ? 'genre_keys'
        """
    )
    bind = op.get_bind()
    tenants = list(bind.scalars(sa.text("SELECT DISTINCT tenant FROM movies ORDER BY tenant")))
    for number, tenant in enumerate(tenants):
        partition = f'"movie_categories__{tenant[:30]}__m{number}"'
        # DDL takes no bound parameters (asyncpg): the name, which the tenants CHECK keeps simple, is quoted here.
        value = "'" + tenant.replace("'", "''") + "'"
        op.execute(f"CREATE TABLE {partition} PARTITION OF movie_categories FOR VALUES IN ({value})")
    op.execute(LINKS_FROM_MOVIES.format(links="movie_categories", movies="movies"))
    for tenant in tenants:
        bind.execute(counts_insert(tenant))


def downgrade() -> None:
    op.execute("DELETE FROM category_counts")
    op.execute("DELETE FROM movie_categories")
    bind = op.get_bind()
    # Back to 0002's keys (one per written name): recomputed from the names, in Python like the parser.
    rows = bind.execute(sa.text("SELECT tenant, tmdb_id, data -> 'genres' FROM movies WHERE data ? 'genres'")).all()
    update = sa.text(
        "UPDATE movies SET checksum = NULL, data = jsonb_set(data, '{genre_keys}', CAST(:keys AS jsonb))"
        " WHERE tenant = :tenant AND tmdb_id = :tmdb_id"
    )
    for tenant, tmdb_id, names in rows:
        keys = json.dumps([genre_key(name) for name in names])
        bind.execute(update, {"keys": keys, "tenant": tenant, "tmdb_id": tmdb_id})
    op.execute("DELETE FROM categories WHERE id > 25")
    op.execute("SELECT setval(pg_get_serial_sequence('categories', 'id'), 25)")
