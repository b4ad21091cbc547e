"""Search pages by relevance in tiers: the words of the titles, stored and indexed apart.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

Why: a search ranked every match (`ts_rank` over the title text, then a sort) before it could
return a page. The generated 1M-movie tenant matches thousands of movies for a five-word query:
932 ms for a 20-row page. Relevance is now tiers (movies/relevance.py), each read in an index's
order or from a small index: the title starts with the words (the title btree of 0004), every word
is in a title (this GIN), the rest (0004's search GIN).

- `data.title_words`: the words of the Vietnamese and original titles, in tsvector's input form,
  like `search_words`, of which they are a part. It replaces `search_title`, which only `ts_rank`
  read. Stored movies get all three texts again, computed as 0004 computes them (this file's own
  copy, search_texts below), and lose `search_title`; their checksum becomes NULL, as in 0004:
  their next reload counts them as changed. On the 1M-movie tenant that rewrites every row once.
  Read tenant by tenant, as the owner sees a tenant's rows only (0006).
- ix_movies_title_words: GIN over the cast, like ix_movies_search (no text parser at build: 2.6 s
  per million movies, against 7.6 s for the search GIN, and a third of its size). Its functions
  are the ones 0006 marked LEAKPROOF, so it serves as the app role under row-level security.
"""

import functools
import json
import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "CREATE INDEX ix_movies_title_words ON movies USING gin (((data ->> 'title_words')::tsvector))"
BATCH = 5000

SELECT_BATCH = sa.text(
    "SELECT tmdb_id, data ->> 'movie_name', data ->> 'original_title', data ->> 'overview' FROM movies"
    " WHERE tenant = :tenant AND tmdb_id > :after ORDER BY tmdb_id LIMIT :batch"
)
UPDATE_BATCH = sa.text(
    """
    UPDATE movies AS movie SET data = movie.data - :removed || derived.fields, checksum = NULL
    FROM unnest(CAST(:ids AS bigint[]), CAST(:fields AS jsonb[])) AS derived (tmdb_id, fields)
    WHERE movie.tenant = :tenant AND movie.tmdb_id = derived.tmdb_id
    """
)
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
    _rewrite_derived_texts(search_texts, removed="search_title")
    op.execute(INDEX)


def downgrade() -> None:
    op.execute("DROP INDEX ix_movies_title_words")
    _rewrite_derived_texts(_downgraded, removed="title_words")


def _downgraded(name: str | None, original: str | None, overview: str | None) -> dict[str, str]:
    """0006's texts: search_title was both folded titles, the original one only if it differs."""
    fields = search_texts(name, original, overview)
    del fields["title_words"]
    title, original_title = _fold(name or ""), _fold(original or "")
    both = f"{title} {original_title}" if original_title and original_title != title else title
    return {**fields, "search_title": both}


def _rewrite_derived_texts(derive, *, removed: str) -> None:
    bind = op.get_bind()
    for tenant in bind.scalars(sa.text("SELECT name FROM tenants ORDER BY name")).all():
        bind.execute(sa.text("SELECT set_config('app.tenant', :tenant, true)"), {"tenant": tenant})
        after = 0
        while rows := bind.execute(SELECT_BATCH, {"tenant": tenant, "after": after, "batch": BATCH}).all():
            fields = [json.dumps(derive(name, original, overview)) for _, name, original, overview in rows]
            params = {"tenant": tenant, "ids": [row[0] for row in rows], "fields": fields, "removed": removed}
            bind.execute(UPDATE_BATCH, params)
            after = rows[-1][0]
    bind.execute(sa.text("SELECT set_config('app.tenant', '', true)"))
