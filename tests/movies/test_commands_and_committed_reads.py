"""Committed catalogs, in a database of this module's own: the `moviemanager load` and `export`
commands (which open their own connections), the one snapshot an export reads while reloads
commit, and how long its transaction lasts."""

import io
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from moviemanager import cli
from moviemanager.app import create_app, serving
from moviemanager.config import Settings
from moviemanager.db import create_sessionmaker
from moviemanager.movies.exporting.service import export_catalog
from moviemanager.movies.reading.filters import MovieFilters
from moviemanager.movies.reading.repository import MovieRepository
from moviemanager.read_pool import SET_TENANT, TenantConnection
from moviemanager.uow import UnitOfWork

from ..conftest import ADMIN, committing_client
from ..factories import HEADER, catalog_csv, movie


@pytest.fixture
async def client(own_settings, own_engine) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the module's database: its reloads really commit."""
    async with committing_client(own_settings, own_engine) as client:
        yield client


async def reload(client, tenant: str, data: bytes, **params: str) -> None:
    response = await client.post(
        "/reload", params={"tenant": tenant, **params}, files={"file": ("c.csv", data, "text/csv")}
    )
    assert response.status_code == 200, response.text


async def export(engine, tenant: str) -> bytes:
    chunks = export_catalog(UnitOfWork(create_sessionmaker(engine, Settings.model_construct())), tenant, MovieFilters())
    return b"".join([chunk async for chunk in chunks])


@pytest.fixture
async def exported(client, own_settings, own_engine, monkeypatch) -> tuple[str, bytes]:
    """A committed tenant, its export, and an environment pointing the command at its database."""
    await reload(client, "cli", catalog_csv([movie(1) | {"Director": "Lý Hải"}, movie(2)], HEADER + ["Director"]))
    monkeypatch.setenv("DATABASE_URL", own_settings.database_url)
    monkeypatch.setenv("MOVIEMANAGER_MIGRATE_ON_START", "false")
    return "cli", await export(own_engine, "cli")


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


async def test_a_reload_committing_mid_export_does_not_leak_into_it(client, own_engine, monkeypatch):
    await reload(client, "snapshot", catalog_csv([movie(1) | {"Director": "a"}], HEADER + ["Director"]))
    before = await export(own_engine, "snapshot")
    read_columns = MovieRepository.extra_columns

    async def reload_after_reading_columns(self, filters):
        columns = await read_columns(self, filters)
        # A merge: a replace would wait for the export to finish reading the partition it drops.
        await reload(client, "snapshot", catalog_csv([movie(2) | {"Writer": "b"}], HEADER + ["Writer"]), mode="merge")
        return columns

    monkeypatch.setattr(MovieRepository, "extra_columns", reload_after_reading_columns)
    assert await export(own_engine, "snapshot") == before


async def test_the_transaction_ends_before_the_first_chunk(client, own_engine):
    await reload(client, "spooled", catalog_csv([movie(i, Overview="dài " * 100) for i in range(1, 501)]))
    chunks = export_catalog(
        UnitOfWork(create_sessionmaker(own_engine, Settings.model_construct())), "spooled", MovieFilters()
    )
    first = await anext(chunks)
    assert own_engine.pool.checkedout() == 0  # a slow download holds no connection, no lock
    rest = [chunk async for chunk in chunks]
    assert len(rest) > 1 and b"".join([first, *rest]) == await export(own_engine, "spooled")


@pytest.fixture
def command_env(own_settings, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", own_settings.database_url)
    monkeypatch.setenv("MOVIEMANAGER_MIGRATE_ON_START", "false")


def test_load_command_imports_a_file_and_prints_the_report(command_env, own_engine, tmp_path, capsys):
    path = tmp_path / "catalog.csv"
    path.write_bytes(catalog_csv([movie(1), movie(2, Rating="7,5")]))
    assert cli.main(["load", "loaded", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["tenant"], report["source"], report["loaded"], report["warning_count"]) == (
        "loaded",
        str(path),
        2,
        1,
    )

    path.write_bytes(catalog_csv([movie(2, Rating="7,5"), movie(3)]))
    assert cli.main(["load", "loaded", str(path), "--mode", "merge", "--dry-run"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["inserted"], report["unchanged"], report["total"], report["dry_run"]) == (1, 1, 3, True)


def test_load_command_reads_stdin(command_env, monkeypatch, capsys):
    class Stdin:
        buffer = io.BytesIO(catalog_csv([movie(5)]))

    monkeypatch.setattr("sys.stdin", Stdin)
    assert cli.main(["load", "piped", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "stdin"


def test_load_command_reports_an_invalid_file_and_exits_1(command_env, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_bytes(catalog_csv([movie(1, Year="later")]))
    assert cli.main(["load", "rejected", str(path)]) == 1
    error = json.loads(capsys.readouterr().err)
    assert error["errors"][0]["line"] == 2 and error["errors"][0]["column"] == "Year"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["load", "Bad Name", "x.csv"], "not a valid tenant name"), (["load", "ok", "/no/such.csv"], "cannot read")],
)
def test_load_command_refuses_bad_arguments(command_env, arguments, message, capsys):
    assert cli.main(arguments) == 2
    assert message in capsys.readouterr().err


async def test_a_read_pool_connection_is_scoped_once_per_tenant_switch_and_never_shows_another_tenant(
    own_settings, own_engine, monkeypatch
):
    scopes = []
    execute = TenantConnection.execute

    async def recording_execute(self, query, *args, **kwargs):
        if query == SET_TENANT:
            scopes.append(args[0])
        return await execute(self, query, *args, **kwargs)

    monkeypatch.setattr(TenantConnection, "execute", recording_execute)
    # One connection serves every request; no page cache, so every request queries.
    app = create_app(own_settings.model_copy(update={"db_pool_size": 1, "page_cache_mb": 0}))
    async with (
        serving(app, own_engine),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=ADMIN
        ) as client,
    ):
        await reload(client, "pool_a", catalog_csv([movie(1), movie(2)]))
        await reload(client, "pool_b", catalog_csv([movie(3)]))

        async def listed(tenant: str) -> list[str]:
            return [m["tmdb_id"] for m in (await client.get("/movies", params={"tenant": tenant})).json()]

        assert [await listed(t) for t in ("pool_a", "pool_a", "pool_b", "pool_a")] == [
            ["1", "2"],
            ["1", "2"],
            ["3"],
            ["1", "2"],
        ]
        assert scopes == ["pool_a", "pool_b", "pool_a"]

        # A setting gone stale (a bug) hides the tenant's rows; it cannot show another tenant's.
        stale = "SELECT set_config('app.tenant', 'pool_b', false)"
        await app.state.read_pool.run("pool_a", lambda connection: execute(connection, stale))
        assert await listed("pool_a") == []
