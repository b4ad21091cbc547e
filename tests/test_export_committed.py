"""Exports of committed catalogs: the single snapshot an export reads while reloads commit."""

import io
import uuid

import pytest
from sqlalchemy import delete

from moviemanager.db import create_sessionmaker
from moviemanager.models import Tenant
from moviemanager.movies import service
from moviemanager.movies.export import export_catalog
from moviemanager.movies.repository import MovieFilters, MovieRepository
from moviemanager.uow import UnitOfWork

from .factories import HEADER, catalog_csv, movie


async def reload(sessions, tenant: str, data: bytes) -> None:
    await service.reload_catalog(UnitOfWork(sessions), tenant, io.BytesIO(data), source="upload")


async def export(sessions, tenant: str) -> bytes:
    return b"".join([chunk async for chunk in export_catalog(UnitOfWork(sessions), tenant, MovieFilters())])


@pytest.fixture
async def committed(engine):
    """Sessions that really commit, and a tenant name removed again afterwards."""
    sessions = create_sessionmaker(engine)
    tenant = f"export_{uuid.uuid4().hex[:8]}"
    yield sessions, tenant
    async with sessions() as session:
        await session.execute(delete(Tenant).where(Tenant.name == tenant))
        await session.commit()


async def test_a_reload_committing_mid_export_does_not_leak_into_it(committed, monkeypatch):
    sessions, tenant = committed
    await reload(sessions, tenant, catalog_csv([movie(1) | {"Director": "a"}], HEADER + ["Director"]))
    before = await export(sessions, tenant)
    read_columns = MovieRepository.extra_columns

    async def reload_after_reading_columns(self, filters):
        columns = await read_columns(self, filters)
        await reload(sessions, tenant, catalog_csv([movie(2) | {"Writer": "b"}], HEADER + ["Writer"]))
        return columns

    monkeypatch.setattr(MovieRepository, "extra_columns", reload_after_reading_columns)
    assert await export(sessions, tenant) == before
