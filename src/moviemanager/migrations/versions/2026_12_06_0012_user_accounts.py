"""User accounts: users, the tenants they may write, login tokens, failed logins.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

Why: people sign in with a username and password (POST /auth/login) and get a bearer token that
writes what their account may write: every tenant and the global data for an admin, else the
tenants granted to them (`moviemanager user grant`).

- `users`: the password as an Argon2id hash (PHC string). Usernames are kept as typed and unique
  whatever their case, by a unique index on lower(username) (`uq_users_username`): "Ann" keeps
  her spelling, and "ann" cannot be registered beside her. Logins look the name up the same way.
  Users are disabled (`is_active`), never deleted: the app role gets no DELETE on them.
- `user_tenants`: key (tenant, user_id), tenant-first; no foreign key to `tenants`, for the
  reasons migration 0005 gives for api_tokens (a grant may come before the tenant's first upload;
  reloads hold the tenant row FOR UPDATE). Indexed by user_id for a user's list of tenants.
- `login_tokens`: the SHA-256 of each token, as the key (a token is 256 random bits: nothing to
  brute-force, so a plain digest suffices, as for api_tokens), its user, creation and expiry. A
  revoked token is deleted; so are a disabled user's.
- `login_failures`: one row per failed (or still running) login attempt, by lower-cased username
  and by client address, for the throttle of every worker process; rows older than the window
  are deleted as new attempts come.

Row-level security: none on these four tables, with plain grants, like api_tokens (0006). They
hold no tenant's catalog data, and the requests that need them name no tenant or another one:
a login runs with no `app.tenant`, a token's check on a write must see grants of tenants other
than the request's to tell 403 from 401, and GET /auth/me lists all of a user's tenants. A policy
keyed by `app.tenant` would hide exactly those rows. What the app role may do is narrowed by
the grants instead: no DELETE on `users`, no UPDATE on grants, tokens or failures, no TRUNCATE.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from moviemanager.migrations.tenant_isolation import APP_ROLE

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRANTS = {
    "users": "SELECT, INSERT, UPDATE",  # register and `user create`; disable, rehash on login
    "user_tenants": "SELECT, INSERT, DELETE",
    "login_tokens": "SELECT, INSERT, DELETE",
    "login_failures": "SELECT, INSERT, DELETE",
}


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
    )
    op.execute("CREATE UNIQUE INDEX uq_users_username ON users (lower(username))")
    op.create_table(
        "user_tenants",
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "user_id", name="pk_user_tenants"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_user_tenants_user_id_users", ondelete="CASCADE"),
    )
    op.create_index("ix_user_tenants_user_id", "user_tenants", ["user_id"])
    op.create_table(
        "login_tokens",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_login_tokens"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_login_tokens_user_id_users", ondelete="CASCADE"),
        sa.CheckConstraint("octet_length(token_hash) = 32", name="ck_login_tokens_sha256"),
    )
    op.create_index("ix_login_tokens_user_id", "login_tokens", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_failures"),
    )
    op.create_index("ix_login_failures_username_failed_at", "login_failures", ["username", "failed_at"])
    op.create_index("ix_login_failures_client_failed_at", "login_failures", ["client", "failed_at"])
    op.create_index("ix_login_failures_failed_at", "login_failures", ["failed_at"])
    for table, privileges in GRANTS.items():
        op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")


def downgrade() -> None:
    for table in ("login_failures", "login_tokens", "user_tenants", "users"):
        op.drop_table(table)  # with its indexes, constraints and grants
