"""Categories for the genres no master category fits; existing movies linked and counted.

Revision ID: 0003b
Revises: 0003
Create Date: 2026-11-26

The master ids 1..25 stay as they are. New categories go where every default tenant has movies
under every root: the genres only some default catalogs use (Western, Music, the TV genres) go
below a root. TV Movie (10770) has no category: no default catalog uses it.

Existing movies (loaded before 0003) get canonical ids in `genre_keys`, their links and their
counts, as the importer of this release made them: this file holds its copy of the genre names'
keys (ALIASES), of the links' SQL and of the counts' (COUNTS_INSERT). Their checksum is cleared,
so their next reload counts them as changed (see 0002).
"""

import json
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

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
# A tenant's movies per category: `movie_count` in the category itself, `total_count` in its
# subtree. The movies are counted per genre list, each list's set of categories once per category
# on its members' ways up to a root (a way up that never reaches one, a cycle, counts nothing).
COUNTS_INSERT = """
WITH RECURSIVE movie_sets AS (
    SELECT per_set.cats, CAST(sum(per_set.movies) AS bigint) AS movies
    FROM (
        SELECT per_list.movies, ARRAY(
            SELECT DISTINCT genre_categories.category_id
            FROM jsonb_array_elements(per_list.keys) AS genre(key)
            JOIN genre_categories ON to_jsonb(genre_categories.genre_id) = genre.key
            ORDER BY 1
        ) AS cats
        FROM (
            SELECT data -> 'genre_keys' AS keys, count(*) AS movies FROM movies
            WHERE tenant = :tenant GROUP BY data -> 'genre_keys'
        ) AS per_list
    ) AS per_set
    WHERE cardinality(per_set.cats) > 0
    GROUP BY per_set.cats
), up (id, ancestor, parent_id, path) AS (
    SELECT id, id, parent_id, ARRAY[id] FROM categories WHERE id IN (SELECT unnest(cats) FROM movie_sets)
    UNION ALL
    SELECT up.id, categories.id, categories.parent_id, array_append(up.path, categories.id)
    FROM categories JOIN up ON categories.id = up.parent_id
    WHERE array_position(up.path, categories.id) IS NULL
), ancestry AS (
    SELECT id, ancestor FROM up WHERE id IN (SELECT id FROM up WHERE parent_id IS NULL)
), pairs AS (
    SELECT DISTINCT movie_sets.cats, movie_sets.movies, ancestry.ancestor
    FROM movie_sets
    JOIN unnest(movie_sets.cats) AS members(member) ON true
    JOIN ancestry ON ancestry.id = members.member
)
INSERT INTO category_counts (tenant, category_id, movie_count, total_count)
SELECT CAST(:tenant AS text), ancestor,
    CAST(coalesce(sum(movies) FILTER (WHERE ancestor = ANY (cats)), 0) AS integer), CAST(sum(movies) AS integer)
FROM pairs
GROUP BY ancestor
"""
# The keys (folded names, see _fold) each canonical genre of 0003 is known by: its English name, its
# Vietnamese name, and that without "Phim ". The parser matches names by the same keys
# (movies/genres.ALIASES); a test keeps the two equal while the canonical genres stay 0003's.
ALIASES = {
    "action": 28, "phim hanh dong": 28, "hanh dong": 28,
    "adventure": 12, "phim phieu luu": 12, "phieu luu": 12,
    "animation": 16, "phim hoat hinh": 16, "hoat hinh": 16,
    "comedy": 35, "phim hai": 35, "hai": 35,
    "crime": 80, "phim hinh su": 80, "hinh su": 80,
    "documentary": 99, "phim tai lieu": 99, "tai lieu": 99,
    "drama": 18, "phim chinh kich": 18, "chinh kich": 18,
    "family": 10751, "phim gia dinh": 10751, "gia dinh": 10751,
    "fantasy": 14, "phim gia tuong": 14, "gia tuong": 14,
    "history": 36, "phim lich su": 36, "lich su": 36,
    "horror": 27, "phim kinh di": 27, "kinh di": 27,
    "music": 10402, "phim nhac": 10402, "nhac": 10402,
    "mystery": 9648, "phim bi an": 9648, "bi an": 9648,
    "romance": 10749, "phim lang man": 10749, "lang man": 10749,
    "science fiction": 878, "phim khoa hoc vien tuong": 878, "khoa hoc vien tuong": 878,
    "tv movie": 10770,
    "thriller": 53, "phim gay can": 53, "gay can": 53,
    "war": 10752, "phim chien tranh": 10752, "chien tranh": 10752,
    "western": 37, "phim mien tay": 37, "mien tay": 37,
    "action & adventure": 10759, "kids": 10762, "news": 10763, "reality": 10764,
    "sci-fi & fantasy": 10765, "soap": 10766, "talk": 10767, "war & politics": 10768,
}  # fmt: skip

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


def _fold(name: str) -> str:
    """A genre name's key: 'Phim Hài' → 'phim hai' (casefolded, accents stripped, đ → d, spaces collapsed)."""
    decomposed = unicodedata.normalize("NFKD", name.casefold().replace("đ", "d"))
    return " ".join("".join(char for char in decomposed if not unicodedata.combining(char)).split())


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
        bind.execute(sa.text(COUNTS_INSERT), {"tenant": tenant})


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
        keys = json.dumps([_fold(name) for name in names])
        bind.execute(update, {"keys": keys, "tenant": tenant, "tmdb_id": tmdb_id})
    op.execute("DELETE FROM categories WHERE id > 25")
    op.execute("SELECT setval(pg_get_serial_sequence('categories', 'id'), 25)")
