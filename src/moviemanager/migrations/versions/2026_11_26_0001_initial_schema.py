"""Initial schema: tenants, movies (JSONB attributes + GIN), the category tree and its 25 master rows.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Movie attributes stay in `movies.data` (JSONB). Only the key is a column: `tmdb_id`, so the primary
key (tenant, tmdb_id) is a btree that orders listings and finds one movie. No attribute is promoted
out of JSONB: the genre and year filters are served by containment (`data @> …`) on the GIN index.
Every key starts with the tenant, so the table can later be distributed by tenant.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (id, name, parent id): the master tree, ids fixed because clients know them.
CATEGORIES = [
    (1, "Action", None),
    (2, "Drama", None),
    (3, "Comedy", None),
    (4, "Horror", None),
    (5, "Science Fiction", None),
    (6, "Thriller", 1),
    (7, "Adventure", 1),
    (8, "Martial Arts", 1),
    (9, "Romantic Drama", 2),
    (10, "Historical Drama", 2),
    (11, "Romantic Comedy", 3),
    (12, "Dark Comedy", 3),
    (13, "Psychological Horror", 4),
    (14, "Slasher", 4),
    (15, "Space Opera", 5),
    (16, "Cyberpunk", 5),
    (17, "Spy Thriller", 6),
    (18, "Crime Thriller", 6),
    (19, "Jungle Adventure", 7),
    (20, "Kung Fu", 8),
    (21, "Period Romance", 9),
    (22, "War Drama", 10),
    (23, "Black Comedy", 12),
    (24, "Ghost Story", 13),
    (25, "Dystopian", 16),
]


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'", name=op.f("ck_tenants_name_format")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tenants")),
    )

    op.create_table(
        "movies",
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("tmdb_id", sa.BigInteger(), nullable=False),
        sa.Column("data", JSONB(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"], ["tenants.name"], name=op.f("fk_movies_tenant_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant", "tmdb_id", name=op.f("pk_movies")),
    )
    # jsonb_path_ops: smaller and faster than the default jsonb_ops for `@>`, the only operator used.
    # The tenant is not in this index: a (tenant, data) GIN via btree_gin would make every query
    # intersect the whole tenant's posting list; the heap recheck of `tenant = …` is cheaper.
    op.create_index(
        "ix_movies_data", "movies", ["data"], postgresql_using="gin", postgresql_ops={"data": "jsonb_path_ops"}
    )

    categories = op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["categories.id"], name=op.f("fk_categories_parent_id_categories")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_categories_name")),
    )
    op.create_index(op.f("ix_categories_parent_id"), "categories", ["parent_id"])
    op.bulk_insert(categories, [{"id": i, "name": name, "parent_id": parent} for i, name, parent in CATEGORIES])
    # Ids were given explicitly; new categories continue after them.
    op.execute("SELECT setval(pg_get_serial_sequence('categories', 'id'), (SELECT max(id) FROM categories))")


def downgrade() -> None:
    op.drop_table("categories")
    op.drop_index("ix_movies_data", table_name="movies")
    op.drop_table("movies")
    op.drop_table("tenants")
