"""Reloads with real commits: readers see the old catalog or the new one, never a mix."""

import asyncio
import io
import uuid

import pytest
from sqlalchemy import delete

from moviemanager.db import create_sessionmaker
from moviemanager.errors import InvalidCsv
from moviemanager.models import Tenant
from moviemanager.movies import service
from moviemanager.movies.csv_import import read_catalog
from moviemanager.movies.repository import MovieFilters
from moviemanager.uow import UnitOfWork

from .factories import catalog_csv, movie


@pytest.fixture
async def committed(engine):
    """Sessions that really commit, and a tenant name removed again afterwards."""
    sessions = create_sessionmaker(engine)
    tenant = f"atomic_{uuid.uuid4().hex[:8]}"
    yield sessions, tenant
    async with sessions() as session:
        await session.execute(delete(Tenant).where(Tenant.name == tenant))
        await session.commit()


def rows(ids) -> bytes:
    return catalog_csv([movie(i) for i in ids])


async def visible_ids(sessions, tenant) -> list[int]:
    async with UnitOfWork(sessions) as uow:
        return [m.tmdb_id for m in await uow.movies(tenant).list(MovieFilters(), limit=1000)]


async def test_readers_see_the_old_set_until_the_replace_commits(committed):
    sessions, tenant = committed
    await service.reload_catalog(UnitOfWork(sessions), tenant, io.BytesIO(rows(range(1, 101))), source="upload")

    async with UnitOfWork(sessions) as writer:
        await writer.tenants.add_and_lock(tenant)
        await writer.movies(tenant).replace_all(read_catalog(io.BytesIO(rows(range(1001, 1201)))))
        assert await visible_ids(sessions, tenant) == list(range(1, 101))
        await writer.commit()

    assert await visible_ids(sessions, tenant) == list(range(1001, 1201))


async def test_reloads_of_one_tenant_wait_for_each_other(committed):
    sessions, tenant = committed
    await service.reload_catalog(UnitOfWork(sessions), tenant, io.BytesIO(rows([1])), source="upload")

    async with UnitOfWork(sessions) as first:
        await first.tenants.add_and_lock(tenant)
        await first.movies(tenant).replace_all(read_catalog(io.BytesIO(rows([2, 3]))))
        second = asyncio.create_task(
            service.reload_catalog(UnitOfWork(sessions), tenant, io.BytesIO(rows([4, 5, 6])), source="upload")
        )
        await asyncio.sleep(0.3)
        assert not second.done()  # blocked on the tenant's row lock
        await first.commit()

    assert (await asyncio.wait_for(second, timeout=10)).loaded == 3
    assert await visible_ids(sessions, tenant) == [4, 5, 6]


async def test_a_failed_reload_leaves_the_committed_catalog(committed):
    sessions, tenant = committed
    await service.reload_catalog(UnitOfWork(sessions), tenant, io.BytesIO(rows([1, 2])), source="upload")
    bad = catalog_csv([movie(3), movie(4, TMDB_ID="x")])
    with pytest.raises(InvalidCsv):
        await service.reload_catalog(UnitOfWork(sessions), tenant, io.BytesIO(bad), source="upload")
    assert await visible_ids(sessions, tenant) == [1, 2]
