"""The ORM mapping of every table, in one place so Alembic and the repositories share it."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Text,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base

TENANT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint(f"name ~ '{TENANT_NAME_PATTERN}'", name="name_format"),)

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Movie(Base):
    """A movie of one tenant's catalog; its attributes live in `data` (JSONB), keyed by API field.

    The table is partitioned by tenant, one partition per tenant, swapped whole by a reload
    (see movies/bulk.py); migration 0002 says why there is no foreign key to `tenants`.
    """

    __tablename__ = "movies"
    # Every index here is rebuilt on each new partition by the importer (movies/bulk.py).
    __table_args__ = (
        PrimaryKeyConstraint("tenant", "tmdb_id", postgresql_include=["checksum"]),
        Index(
            "ix_movies_genre_keys",
            literal_column("(data -> 'genre_keys')").label("genre_keys"),
            postgresql_using="gin",
            postgresql_ops={"genre_keys": "jsonb_path_ops"},
        ),
        # Text, not an integer cast: a cast can fail, so it is not LEAKPROOF. Migration 0006 builds
        # it COLLATE "C", which Alembic does not reflect, so it is left out here.
        Index("ix_movies_year", text("(data ->> 'year')"), "tmdb_id"),
        {"postgresql_partition_by": "LIST (tenant)"},
    )

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    tmdb_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # A hash of the stored document, written by the importer to tell changed movies from unchanged ones.
    checksum: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
