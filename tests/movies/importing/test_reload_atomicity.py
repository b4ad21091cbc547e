"""Reloads with real commits: readers see the old catalog or the new one, never a mix."""

import asyncio
import io
import threading

import pytest
from sqlalchemy import select, text

from moviemanager.errors import CatalogBusy, InvalidCsv
from moviemanager.models import Movie
from moviemanager.movies.importing import bulk, service
from moviemanager.movies.importing.bulk import BulkMovies
from moviemanager.movies.schemas import ImportReport
from moviemanager.uow import UnitOfWork

from ...conftest import committing_client, remove_tenant
from ...factories import catalog_csv, movie


class GatedFile(io.BytesIO):
    """A file whose reads stop after the first chunk until `gate` is set: an import caught mid-COPY."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.gate = threading.Event()
        self.reading = threading.Event()

    def read(self, size: int = -1) -> bytes:
        if self.tell() > 0:
            self.reading.set()
            self.gate.wait(timeout=30)
        return super().read(200)


def rows(ids) -> bytes:
    return catalog_csv([movie(i) for i in ids])


async def visible_ids(sessions, tenant) -> list[int]:
    async with UnitOfWork(sessions).for_tenant(tenant) as uow:
        statement = select(Movie.tmdb_id).where(Movie.tenant == tenant).order_by(Movie.tmdb_id)
        return list(await uow.session.scalars(statement))


async def reload(sessions, tenant, source) -> ImportReport:
    return await service.reload_catalog(UnitOfWork(sessions), tenant, source)


async def test_readers_see_the_old_set_until_the_replace_commits(committed):
    sessions, tenant = committed
    await reload(sessions, tenant, io.BytesIO(rows(range(1, 101))))

    source = GatedFile(rows(range(1001, 1201)))
    writer = asyncio.create_task(reload(sessions, tenant, source))
    await asyncio.to_thread(source.reading.wait, 10)
    assert await visible_ids(sessions, tenant) == list(range(1, 101))

    seen = []

    async def keep_reading():
        while not writer.done():
            seen.append(await visible_ids(sessions, tenant))

    reader = asyncio.create_task(keep_reading())
    source.gate.set()
    report = await asyncio.wait_for(writer, timeout=30)
    await reader
    assert (report.inserted, report.deleted, report.total) == (200, 100, 200)
    assert await visible_ids(sessions, tenant) == list(range(1001, 1201))
    assert all(ids in (list(range(1, 101)), list(range(1001, 1201))) for ids in seen)


async def test_reloads_of_one_tenant_wait_for_each_other(committed):
    sessions, tenant = committed
    await reload(sessions, tenant, io.BytesIO(rows([1])))

    first_source = GatedFile(rows(range(2, 40)))
    first = asyncio.create_task(reload(sessions, tenant, first_source))
    await asyncio.to_thread(first_source.reading.wait, 10)
    second = asyncio.create_task(reload(sessions, tenant, io.BytesIO(rows(range(4, 10)))))
    await asyncio.sleep(0.3)
    assert not second.done()  # blocked on the tenant's row lock
    first_source.gate.set()

    assert (await asyncio.wait_for(first, timeout=10)).loaded == 38
    assert (await asyncio.wait_for(second, timeout=10)).loaded == 6
    assert await visible_ids(sessions, tenant) == list(range(4, 10))


async def test_reloads_of_different_tenants_proceed_in_parallel(committed, owner_engine):
    sessions, tenant = committed
    other = tenant + "_b"
    try:
        source = GatedFile(rows(range(1, 40)))
        first = asyncio.create_task(reload(sessions, tenant, source))
        await asyncio.to_thread(source.reading.wait, 10)
        second = await asyncio.wait_for(reload(sessions, other, io.BytesIO(rows([7, 8]))), timeout=10)
        assert second.total == 2
        # And a replace of an existing tenant, which drops its old partition.
        second = await asyncio.wait_for(reload(sessions, other, io.BytesIO(rows([7, 9]))), timeout=10)
        assert (second.inserted, second.deleted, second.unchanged) == (1, 1, 1)
        source.gate.set()
        assert (await asyncio.wait_for(first, timeout=10)).total == 39
    finally:
        source.gate.set()
        await remove_tenant(owner_engine, other)


async def test_a_failed_reload_leaves_the_committed_catalog(committed):
    sessions, tenant = committed
    await reload(sessions, tenant, io.BytesIO(rows([1, 2])))
    bad = catalog_csv([movie(3), movie(4, TMDB_ID="x")])
    with pytest.raises(InvalidCsv):
        await reload(sessions, tenant, io.BytesIO(bad))
    assert await visible_ids(sessions, tenant) == [1, 2]


async def test_a_replace_blocked_by_a_long_read_of_its_tenant_answers_busy_and_changes_nothing(
    committed, engine, monkeypatch
):
    sessions, tenant = committed
    await reload(sessions, tenant, io.BytesIO(rows([1, 2])))
    monkeypatch.setattr(bulk, "TENANT_LOCK_TIMEOUT", "50ms")
    monkeypatch.setattr(bulk, "SWAP_ATTEMPTS", 2)
    async with sessions() as session:
        partition = await BulkMovies(session, tenant).current_partition()
    async with engine.connect() as reader:  # a long read (an export, say) holding the tenant's partition
        await reader.execute(text(f'SELECT count(*) FROM "{partition}"'))
        with pytest.raises(CatalogBusy):
            await reload(sessions, tenant, io.BytesIO(rows([1, 2, 3])))
        await reader.rollback()
    assert await visible_ids(sessions, tenant) == [1, 2]


async def test_every_transaction_has_its_timeouts_and_imports_a_longer_statement_timeout(uow, settings):
    async with uow:
        shown = await uow.session.execute(
            text("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
        )
        assert tuple(shown.one()) == ("30s", "5s")
    async with uow.for_tenant("timed", importing=True):
        assert await uow.session.scalar(text("SELECT current_setting('statement_timeout')")) == "1h"


async def test_a_reload_that_cannot_get_its_tenants_lock_in_time_answers_409(committed, engine, owner_engine, settings):
    sessions, tenant = committed
    await reload(sessions, tenant, io.BytesIO(rows([1, 2])))
    impatient = settings.model_copy(update={"reload_lock_timeout": 0.2})
    source = GatedFile(rows(range(10, 40)))
    first = asyncio.create_task(reload(sessions, tenant, source))
    try:
        await asyncio.to_thread(source.reading.wait, 10)
        async with committing_client(impatient, engine) as client:
            files = {"file": ("c.csv", rows([1, 2, 3]))}
            response = await client.post("/reload", params={"tenant": tenant}, files=files)
            assert response.status_code == 409, response.text
            assert "Another reload of tenant" in response.json()["detail"]
            other = await client.post("/reload", params={"tenant": tenant + "_x"}, files=files)
            assert other.status_code == 200  # another tenant's reload is not held up
    finally:
        source.gate.set()
        await remove_tenant(owner_engine, tenant + "_x")
    assert (await asyncio.wait_for(first, timeout=10)).total == 30
    assert await visible_ids(sessions, tenant) == list(range(10, 40))


async def test_a_read_that_waits_past_the_lock_timeout_answers_503(committed, engine, owner_engine, settings):
    sessions, tenant = committed
    await reload(sessions, tenant, io.BytesIO(rows([1, 2])))
    hasty = settings.model_copy(update={"db_lock_timeout": 0.1})
    async with sessions() as session:
        partition = await BulkMovies(session, tenant).current_partition()
    async with owner_engine.connect() as locker:
        await locker.execute(text(f'LOCK TABLE "{partition}" IN ACCESS EXCLUSIVE MODE'))
        async with committing_client(hasty, engine) as client:
            response = await client.get("/movies", params={"tenant": tenant})
        await locker.rollback()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "did not answer in time" in response.json()["detail"]
