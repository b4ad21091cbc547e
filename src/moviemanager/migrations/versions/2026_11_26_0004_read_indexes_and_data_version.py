"""Indexes for sorted, keyset-paginated and searched listings; a data version per tenant.

Revision ID: 0004
Revises: 0003b
Create Date: 2026-11-26

Why these indexes and no more: the importer rebuilds every index of `movies` on each reload
(about a second per btree per million rows), so each one must serve a listing that would
otherwise read and sort thousands of rows for a 20-row page. They are defined on the parent;
partitions are per tenant, so `tenant` need not lead them.

- Sort keys never NULL (unknown year 0, unknown rating -1), so a keyset cursor is one row
  comparison, `(key, tmdb_id) > (…)`, which the btree answers as an index condition.
- ix_movies_year is rebuilt on the coalesced year (the year filters use the same expression).
- ix_movies_rating, ix_movies_title: `sort=rating`/`sort=title`, walked forwards or backwards.
- ix_movies_year_rating: a year's movies by rating (`year=2001&sort=-rating`, the top of a year),
  which otherwise means fetching and sorting the year's ~10,000 movies (1M tenant).
- ix_movies_search: full-text search over the words of titles and overview, which the importer
  folds in Python (casefold, accents stripped, đ → d) and stores in tsvector's input form:
  `unaccent()` is not IMMUTABLE and cannot be indexed, and the cast costs the index build far less
  than `to_tsvector` (PostgreSQL's parser took 16 s of 40 s per 1M movies). No stemming: titles are
  names in several languages. Still the dearest index (measured in the README).
- Movies stored before this revision get the importer's texts as keys of `data`: `sort_title` (the
  folded title), `title_words` (the words of both titles) and `search_words` (those and the
  overview's), computed by this file's own copy of the folding (search_texts below). Their checksum
  becomes NULL: their next reload counts them as changed, as after migration 0002.
- tenants.data_version: a new random value on every successful reload (movies/importer.py);
  ETags are derived from it, so a revalidation never reads `movies`.
"""

import functools
import json
import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    "CREATE INDEX ix_movies_year ON movies ((COALESCE((data ->> 'year')::integer, 0)), tmdb_id)",
    "CREATE INDEX ix_movies_rating ON movies ((COALESCE((data ->> 'rating')::numeric, -1)), tmdb_id)",
    "CREATE INDEX ix_movies_year_rating ON movies"
    " ((COALESCE((data ->> 'year')::integer, 0)), (COALESCE((data ->> 'rating')::numeric, -1)), tmdb_id)",
    """CREATE INDEX ix_movies_title ON movies (((data ->> 'sort_title') COLLATE "C"), tmdb_id)""",
    "CREATE INDEX ix_movies_search ON movies USING gin (((data ->> 'search_words')::tsvector))",
]
BACKFILL_BATCH = 5000
DERIVED_KEYS = ("sort_title", "title_words", "search_words")
WORD = re.compile(r"[^\W_]+")  # letters and digits: no tsvector syntax, so the words need no quoting
MAX_WORD_CHARS = 100  # a tsvector lexeme holds at most 2 KB; longer "words" are not words


def _fold(text: str) -> str:
    """'Hài Hước' → 'hai huoc': casefolded, accents stripped, đ → d, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    return " ".join("".join(char for char in decomposed if not unicodedata.combining(char)).split())


@functools.lru_cache(maxsize=1 << 17)  # text repeats its words, and a catalog its titles
def _piece_words(piece: str) -> str:
    """Text between spaces ('"Huế,') → its folded words, space-separated ('hue'; '' if none)."""
    return " ".join(word for word in WORD.findall(_fold(piece)) if len(word) <= MAX_WORD_CHARS)


def _words(text: str) -> str:
    return " ".join(map(_piece_words, text.split()))


def search_texts(name: str | None, original: str | None, overview: str | None) -> dict[str, str]:
    """A movie's texts by key, the words in tsvector's input form (repeats and stray spaces included)."""
    title = _fold(name or "")
    in_titles = f"{_words(title)} {_words(_fold(original or ''))}"
    return {"sort_title": title, "title_words": in_titles, "search_words": f"{in_titles} {_words(overview or '')}"}


def upgrade() -> None:
    op.execute("ALTER TABLE tenants ADD COLUMN data_version uuid NOT NULL DEFAULT gen_random_uuid()")
    _backfill_derived_texts()
    op.execute("DROP INDEX ix_movies_year")
    for index in INDEXES:
        op.execute(index)


def _backfill_derived_texts() -> None:
    """Movies imported before this revision get their texts (see the docstring), in batches."""
    bind = op.get_bind()
    select = sa.text(
        "SELECT tenant, tmdb_id, data ->> 'movie_name', data ->> 'original_title', data ->> 'overview'"
        " FROM movies WHERE (tenant, tmdb_id) > (:tenant, :tmdb_id) ORDER BY tenant, tmdb_id LIMIT :batch"
    )
    update = sa.text(
        "UPDATE movies SET data = data || CAST(:fields AS jsonb), checksum = NULL"
        " WHERE tenant = :tenant AND tmdb_id = :tmdb_id"
    )
    last = {"tenant": "", "tmdb_id": 0}
    while rows := bind.execute(select, {**last, "batch": BACKFILL_BATCH}).all():
        params = [
            {"tenant": tenant, "tmdb_id": tmdb_id, "fields": json.dumps(search_texts(name, original, overview))}
            for tenant, tmdb_id, name, original, overview in rows
        ]
        bind.execute(update, params)
        last = {"tenant": rows[-1][0], "tmdb_id": rows[-1][1]}


def downgrade() -> None:
    for name in ("ix_movies_search", "ix_movies_title", "ix_movies_year_rating", "ix_movies_rating", "ix_movies_year"):
        op.execute(f"DROP INDEX {name}")
    op.execute("CREATE INDEX ix_movies_year ON movies (((data ->> 'year')::integer), tmdb_id)")
    # search_title: what the first release of this revision wrote where title_words is now (0007
    # replaced it in the databases it had migrated).
    removed = " - ".join(f"'{key}'" for key in (*DERIVED_KEYS, "search_title"))
    op.execute(f"UPDATE movies SET data = data - {removed}")
    op.execute("ALTER TABLE tenants DROP COLUMN data_version")
