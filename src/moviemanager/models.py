"""The ORM mapping of every table, in one place so Alembic and the repositories share it."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, Index, Integer, Text, func
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
    """A movie of one tenant's catalog; its attributes live in `data` (JSONB), keyed by API field."""

    __tablename__ = "movies"
    __table_args__ = (
        # Serves the genre and year filters (`data @> …`).
        Index("ix_movies_data", "data", postgresql_using="gin", postgresql_ops={"data": "jsonb_path_ops"}),
    )

    tenant: Mapped[str] = mapped_column(Text, ForeignKey("tenants.name", ondelete="CASCADE"), primary_key=True)
    tmdb_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
