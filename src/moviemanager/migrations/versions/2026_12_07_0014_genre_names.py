"""Each tenant's name for each of its genres, kept beside the movies: facets count from an index alone.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

Why: GET /movies/facets named each genre by its spelling in the matching movies, which only the
movie's document holds, so it read every matching movie from the table (about a second for
100,000 matching movies of a 1,000,000-movie tenant) although the read indexes carry every key it
counts by (migration 0013).

- `genre_names`: key (tenant, key), tenant-first; `key` is what `genre=` matches, as text (a
  canonical genre's id, or an unknown name's key, see movies/genres.py), `name` the tenant's
  spelling of it: of several, the first in code point order (what the facets showed for a whole
  catalog). Written by each import in its transaction, as category_counts is.
- Tenant data: row-level security as on category_counts (migration 0006).
- Filled here from the movies already stored, tenant by tenant, as that tenant: row-level
  security binds the owner too (a single statement would see no movie when the owner is no
  superuser, see 0010).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from moviemanager.migrations.tenant_isolation import isolate_by_tenant, remove_isolation

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tenants with movies: the values of the partitions of movies (0011's query).
MOVIES_TENANTS = r"""
    SELECT replace(substring(pg_get_expr(c.relpartbound, c.oid) FROM '^FOR VALUES IN \(''(.*)''\)$'), '''''', '''')
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = CAST('movies' AS regclass)
    ORDER BY 1
"""
# One tenant's names. Each movie's genre keys beside their names (two set-returning functions in
# one select list run in lockstep); an explicit category's key ends genre_keys with no name beside it.
TENANT_NAMES = """
    INSERT INTO genre_names (tenant, key, name)
    SELECT movies.tenant, genre.key, min(genre.name COLLATE "C")
    FROM movies CROSS JOIN LATERAL (
        SELECT jsonb_array_elements_text(movies.data -> 'genre_keys') AS key,
               jsonb_array_elements_text(movies.data -> 'genres') AS name
    ) AS genre
    WHERE movies.tenant = :tenant AND genre.key IS NOT NULL AND genre.name IS NOT NULL
    GROUP BY movies.tenant, genre.key
"""


def upgrade() -> None:
    op.create_table(
        "genre_names",
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "key", name=op.f("pk_genre_names")),
    )
    isolate_by_tenant("genre_names")
    bind = op.get_bind()
    for tenant in bind.scalars(sa.text(MOVIES_TENANTS)).all():
        bind.execute(sa.text("SELECT set_config('app.tenant', :tenant, true)"), {"tenant": tenant})
        bind.execute(sa.text(TENANT_NAMES), {"tenant": tenant})
    bind.execute(sa.text("SELECT set_config('app.tenant', '', true)"))
    op.execute("ANALYZE genre_names")


def downgrade() -> None:
    remove_isolation("genre_names")
    op.drop_table("genre_names")
