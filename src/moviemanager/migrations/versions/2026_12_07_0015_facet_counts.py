"""Each tenant's facets of its whole catalog, kept by each import: the landing page counts nothing.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

Why: GET /movies/facets with no filter, which the web catalog's first page asks for, counted every
movie of the tenant on every request (about a second for 1,000,000 movies), although the answer
changes only when an import does.

- `facet_counts`: key `tenant`; `rows` the facet query's rows (facet, value, label, count) as a
  JSON array, written in each import's transaction (as category_counts is), read when a request
  has no filter. A tenant without a row (none imported since this migration) is counted live.
- Tenant data: row-level security as on category_counts (migration 0006).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from moviemanager.migrations.tenant_isolation import isolate_by_tenant, remove_isolation

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "facet_counts",
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("rows", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", name=op.f("pk_facet_counts")),
    )
    isolate_by_tenant("facet_counts")


def downgrade() -> None:
    remove_isolation("facet_counts")
    op.drop_table("facet_counts")
