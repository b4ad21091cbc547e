"""The ORM mapping of every table, in one place so Alembic and the repositories share it."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base
from .tenancy import TENANT_NAME_PATTERN

# The sort keys, as the generated columns year_key and rating_key compute them (migration 0013,
# from its own copy; tests/test_migrations_frozen.py compares them with the database's). CASE, not
# COALESCE: under row-level security PostgreSQL takes a COALESCE for leaky and keeps it out of
# index conditions (migration 0006).
YEAR_KEY = "CASE WHEN (data ->> 'year') IS NULL THEN 0 ELSE (data ->> 'year')::integer END"
RATING_KEY = "CASE WHEN (data ->> 'rating') IS NULL THEN -1 ELSE (data ->> 'rating')::numeric END"
RUNTIME_KEY = "(data ->> 'runtime_minutes')::integer"
GENRE_KEYS = "data -> 'genre_keys'"  # the importer's keys of a movie's genres (movies/genres.py)
GENRE_OPS = "jsonb_path_ops"  # containment only: smaller than jsonb_ops, and all a genre filter asks
# What every btree read index of `movies` carries besides its key, so that a page's movies are
# chosen by an index-only scan, whatever its filters and sort (migration 0013).
COVERED = ("year_key", "rating_key", "runtime_minutes", "genre_keys", "sort_title")


def _read_index(name: str, *keys: str) -> Index:
    """A btree read index: tenant first, then `keys` and tmdb_id, carrying the other COVERED columns."""
    return Index(
        name,
        "tenant",
        *keys,
        "tmdb_id",
        postgresql_include=[column for column in COVERED if column not in keys],
    )


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint(f"name ~ '{TENANT_NAME_PATTERN}'", name="name_format"),)

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # A new random value on every successful reload; ETags derive from it (migration 0004).
    data_version: Mapped[uuid.UUID] = mapped_column(Uuid, server_default=func.gen_random_uuid())


class Movie(Base):
    """A movie of one tenant's catalog; its attributes live in `data` (JSONB), keyed by API field.

    The table is partitioned by tenant, one partition per tenant, swapped whole by a reload
    (see movies/importing/bulk.py); migration 0002 says why there is no foreign key to `tenants`.
    """

    __tablename__ = "movies"
    # Every index here is rebuilt on each new partition by the importer (movies/importing/bulk.py).
    __table_args__ = (
        # checksum: the import's comparison; the rest for pages in TMDB id order.
        PrimaryKeyConstraint("tenant", "tmdb_id", postgresql_include=["checksum", *COVERED]),
        Index("ix_movies_genre_keys", "genre_keys", postgresql_using="gin", postgresql_ops={"genre_keys": GENRE_OPS}),
        _read_index("ix_movies_year", "year_key"),
        _read_index("ix_movies_rating", "rating_key"),
        _read_index("ix_movies_year_rating", "year_key", "rating_key"),
        # COLLATE "C" in the migration; Alembic's reflection drops an index column's collation.
        _read_index("ix_movies_title", "sort_title"),
        Index("ix_movies_search", "search_words", postgresql_using="gin"),
        Index("ix_movies_title_words", "title_words", postgresql_using="gin"),
        {"postgresql_partition_by": "LIST (tenant)"},
    )

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    tmdb_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # A hash of the stored document and search texts, written by the importer to tell changed movies
    # from unchanged ones.
    checksum: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The search texts (movies/search.py), written by the importer beside the document (migration 0010).
    sort_title: Mapped[str | None] = mapped_column(Text)
    title_words: Mapped[str | None] = mapped_column(TSVECTOR)
    search_words: Mapped[str | None] = mapped_column(TSVECTOR)
    # The filters' and sorts' keys, computed by PostgreSQL from `data` on every write (migration 0013).
    year_key: Mapped[int] = mapped_column(Integer, Computed(YEAR_KEY, persisted=True))
    rating_key: Mapped[Any] = mapped_column(Numeric, Computed(RATING_KEY, persisted=True))
    runtime_minutes: Mapped[int | None] = mapped_column(Integer, Computed(RUNTIME_KEY, persisted=True))
    genre_keys: Mapped[Any] = mapped_column(JSONB, Computed(GENRE_KEYS, persisted=True))


class Genre(Base):
    """A canonical TMDB genre (seeded by migration 0003 from movies/genres.CANONICAL_GENRES)."""

    __tablename__ = "genres"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name_en: Mapped[str] = mapped_column(Text)
    name_vi: Mapped[str] = mapped_column(Text)


genre_categories = Table(
    "genre_categories",
    Base.metadata,
    Column("genre_id", Integer, ForeignKey("genres.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", Integer, ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class CategoryCount(Base):
    """A tenant's movies per category, written by each import and by category administration."""

    __tablename__ = "category_counts"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    category_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    movie_count: Mapped[int] = mapped_column(Integer)  # in the category itself, through their genres
    total_count: Mapped[int] = mapped_column(Integer)  # distinct movies in its subtree


class GenreName(Base):
    """A tenant's spelling of one of its genres, written by each import: what the facets call it."""

    __tablename__ = "genre_names"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)  # what genre= matches, as text
    name: Mapped[str] = mapped_column(Text)  # of several spellings, the first in code point order


class FacetCounts(Base):
    """A tenant's facets of its whole catalog (reading/facets.py's rows), written by each import."""

    __tablename__ = "facet_counts"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    rows: Mapped[list] = mapped_column(JSONB)  # [[facet, value, label, count], …]


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(Text, unique=True)


class ApiToken(Base):
    """A bearer token that may write one tenant; only its SHA-256 is kept (migration 0005 says why)."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        UniqueConstraint("tenant", "token_hash"),
        CheckConstraint("octet_length(token_hash) = 32", name="sha256"),
    )

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    note: Mapped[str | None] = mapped_column(Text)


class User(Base):
    """A person who signs in (accounts/); usernames are unique whatever their case (migration 0012)."""

    __tablename__ = "users"
    __table_args__ = (Index("uq_users_username", func.lower(literal_column("username")), unique=True),)
    __mapper_args__ = {"eager_defaults": True}  # is_active and created_at come back with the INSERT

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)  # Argon2id, in the PHC string format
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    grants: Mapped[list["UserTenant"]] = relationship(lazy="raise", order_by="UserTenant.tenant")

    @property
    def tenants(self) -> list[str]:
        return [grant.tenant for grant in self.grants]


class UserTenant(Base):
    """A tenant a user may write. No foreign key to `tenants`, as for api_tokens (migration 0005)."""

    __tablename__ = "user_tenants"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class LoginToken(Base):
    """A bearer token from POST /auth/login; only its SHA-256 is kept. Revoked: deleted."""

    __tablename__ = "login_tokens"
    __table_args__ = (CheckConstraint("octet_length(token_hash) = 32", name="sha256"),)

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginFailure(Base):
    """A login attempt that did not succeed (or has not yet), counted by the throttle (accounts/throttle.py)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_failed_at", "username", "failed_at"),
        Index("ix_login_failures_client_failed_at", "client", "failed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(Text)  # as typed, lower-cased: unknown names count too
    client: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
