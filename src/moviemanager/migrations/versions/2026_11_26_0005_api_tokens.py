"""Tenant-scoped API tokens, stored as SHA-256 digests.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Why: `moviemanager token create --tenant T` hands out a bearer token that may write tenant T
only. The table keeps the SHA-256 of each token, never the token: the tokens are 256 random bits,
so a slow password hash would add latency to every write and no protection (nothing to
brute-force), while a plain digest can be looked up through the key.

- Key (tenant, id): `id` is a short public name for `token list` and `token revoke`.
- Unique (tenant, token_hash): the lookup of a presented token, tenant-first like every key.
- No foreign key to `tenants`: a token may be created for a tenant before its first upload
  creates it, and reloads hold the tenant row FOR UPDATE, which a key-share lock would wait on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_api_tokens"),
        sa.UniqueConstraint("tenant", "token_hash", name="uq_api_tokens_tenant_token_hash"),
        sa.CheckConstraint("octet_length(token_hash) = 32", name="ck_api_tokens_sha256"),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
