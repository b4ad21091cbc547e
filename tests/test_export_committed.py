"""Exports of committed catalogs: the `moviemanager export` command, which opens its own database
connection; the single snapshot an export reads while reloads commit; the transaction's length."""

import io
import uuid

import pytest
from sqlalchemy import delete

from moviemanager import cli
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


@pytest.fixture
async def exported(committed, settings, monkeypatch) -> tuple[str, bytes]:
    """A committed tenant, its export, and an environment pointing the command at the test database."""
    sessions, tenant = committed
    await reload(sessions, tenant, catalog_csv([movie(1) | {"Director": "Lý Hải"}, movie(2)], HEADER + ["Director"]))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MOVIEMANAGER_MIGRATE_ON_START", "false")
    return tenant, await export(sessions, tenant)


def test_export_command_writes_the_file(exported, tmp_path):
    tenant, expected = exported
    path = tmp_path / "out.csv"
    assert cli.main(["export", tenant, "-o", str(path)]) == 0
    assert path.read_bytes() == expected
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_export_command_writes_stdout_by_default(exported, capsysbinary):
    tenant, expected = exported
    assert cli.main(["export", tenant]) == 0
    assert capsysbinary.readouterr().out == expected


def test_export_command_for_an_unknown_tenant_fails_and_writes_nothing(exported, tmp_path, capsys):
    path = tmp_path / "out.csv"
    assert cli.main(["export", "nobody", "-o", str(path)]) == 1
    assert capsys.readouterr().err.strip() == "Tenant 'nobody' not found"
    assert not path.exists()


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


async def test_the_transaction_ends_before_the_first_chunk(committed, engine):
    sessions, tenant = committed
    await reload(sessions, tenant, catalog_csv([movie(i, Overview="dài " * 100) for i in range(1, 501)]))
    chunks = export_catalog(UnitOfWork(sessions), tenant, MovieFilters())
    first = await anext(chunks)
    assert engine.pool.checkedout() == 0  # a slow download holds no connection, no lock
    rest = [chunk async for chunk in chunks]
    assert len(rest) > 1 and b"".join([first, *rest]) == await export(sessions, tenant)
