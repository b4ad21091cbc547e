"""Big replaces: new tables committed unattached, indexed over several connections, swapped in at once."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from moviemanager.errors import CatalogBusy, InvalidCsv, ShrinkRefused
from moviemanager.movies.importing import parallel_build, service
from moviemanager.movies.importing.bulk import BulkMovies
from moviemanager.movies.importing.importer import ImportOptions
from moviemanager.movies.importing.parallel_build import ParallelBuild
from moviemanager.uow import UnitOfWork

from ...conftest import remove_tenant
from ...factories import catalog_csv, movie
from .test_reload_atomicity import reload, visible_ids


@pytest.fixture
def every_file_is_big(monkeypatch):
    monkeypatch.setattr(parallel_build, "PARALLEL_BUILD_BYTES", 1)


@pytest.fixture
def write_file(tmp_path):
    def write(ids, **cells) -> str:
        path = tmp_path / f"catalog_{len(list(tmp_path.iterdir()))}.csv"
        path.write_bytes(catalog_csv([movie(i, **cells) for i in ids]))
        return str(path)

    return write


async def load(sessions, tenant, path):
    with open(path, "rb") as source:
        return await reload(sessions, tenant, source)


async def tables(owner_engine, tenant) -> list[tuple[str, bool, bool, bool]]:
    """The tenant's tables under movies: (name, attached, row-level security forced, app role may read)."""
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT relname, relispartition, relrowsecurity AND relforcerowsecurity,"
                " has_table_privilege('moviemanager_app', oid, 'SELECT')"
                " FROM pg_class WHERE relkind = 'r' AND starts_with(relname, :prefix)"
            ),
            {"prefix": f"movies__{tenant}__"},
        )
        return [tuple(row) for row in rows]


async def index_counts(owner_engine, table: str) -> tuple[int, int]:
    async with owner_engine.connect() as conn:
        query = text("SELECT count(*) FROM pg_index WHERE indrelid = CAST(:table AS regclass)")
        return (await conn.scalar(query, {"table": table}), await conn.scalar(query, {"table": "movies"}))


async def category_counts(sessions, tenant) -> list[tuple]:
    async with UnitOfWork(sessions).for_tenant(tenant) as uow:
        query = "SELECT category_id, movie_count, total_count FROM category_counts ORDER BY 1"
        return [tuple(row) for row in await uow.session.execute(text(query))]


async def test_a_big_replace_swaps_in_partitions_with_every_index_and_the_policy(
    committed, owner_engine, every_file_is_big, write_file, monkeypatch
):
    sessions, tenant = committed
    first = await load(sessions, tenant, write_file(range(1, 101), Genre="Phim Hài, Action"))
    assert (first.inserted, first.total) == (100, 100)
    assert "indexes" in first.phases_ms

    seen_during_builds = []
    run = ParallelBuild.run

    async def run_and_look(self, jobs):
        seen_during_builds.append(await visible_ids(sessions, tenant))
        await run(self, jobs)

    monkeypatch.setattr(ParallelBuild, "run", run_and_look)
    report = await load(sessions, tenant, write_file(range(51, 201), Genre="Drama"))
    assert (report.inserted, report.updated, report.deleted, report.total) == (100, 50, 50, 150)
    assert seen_during_builds == [list(range(1, 101))]  # committed, not attached: not seen
    assert await visible_ids(sessions, tenant) == list(range(51, 201))

    [(name, attached, forced, readable)] = await tables(owner_engine, tenant)
    assert (attached, forced, readable) == (True, True, True)
    built, wanted = await index_counts(owner_engine, name)
    assert built == wanted
    # Each named after its parent's (two builds naming <table>_tsvector_idx at once would collide).
    async with owner_engine.connect() as conn:
        names = set(await conn.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = :t"), {"t": name}))
    assert f"{name}_title_words" in names, names

    # The counts, as an import in one transaction makes them.
    monkeypatch.setattr(parallel_build, "PARALLEL_BUILD_BYTES", 1 << 62)
    alike = tenant + "_one"
    try:
        await load(sessions, alike, write_file(range(51, 201), Genre="Drama"))
        assert await category_counts(sessions, tenant) == await category_counts(sessions, alike)
        assert await category_counts(sessions, tenant)
    finally:
        await remove_tenant(owner_engine, alike)


async def test_a_big_replace_with_repeated_ids_skipped_counts_the_movies_kept(committed, every_file_is_big, tmp_path):
    sessions, tenant = committed
    path = tmp_path / "repeats.csv"
    path.write_bytes(catalog_csv([movie(1, Genre="Drama"), movie(2, Genre="Drama"), movie(1, Genre="Comedy")]))
    with open(path, "rb") as source:
        report = await service.reload_catalog(UnitOfWork(sessions), tenant, source, ImportOptions(on_error="skip"))
    assert (report.loaded, report.skipped) == (2, 1)
    assert sum(movies for _, movies, _ in await category_counts(sessions, tenant)) == 2  # Drama, twice


async def test_a_big_replace_failing_after_its_tables_were_committed_drops_them(
    committed, owner_engine, every_file_is_big, write_file, monkeypatch
):
    sessions, tenant = committed
    await load(sessions, tenant, write_file(range(1, 11)))
    before = await tables(owner_engine, tenant)

    async def busy(self, *args):
        raise CatalogBusy(self.tenant)

    monkeypatch.setattr(BulkMovies, "swap", busy)
    with pytest.raises(CatalogBusy):
        await load(sessions, tenant, write_file(range(1, 21)))
    assert await tables(owner_engine, tenant) == before
    assert await visible_ids(sessions, tenant) == list(range(1, 11))


async def leave_tables_behind(sessions, tenant, write_file, monkeypatch) -> None:
    """A big replace that fails after committing its tables, and cannot drop them (as if killed)."""

    async def killed(self, *args):
        raise RuntimeError("killed")

    async def nothing(self):
        pass

    with monkeypatch.context() as patch:
        patch.setattr(BulkMovies, "swap", killed)
        patch.setattr(ParallelBuild, "drop_committed", nothing)
        with pytest.raises(RuntimeError):
            await load(sessions, tenant, write_file(range(1, 21)))


async def test_what_a_killed_import_left_is_hidden_and_dropped_by_the_next_replace(
    committed, owner_engine, every_file_is_big, write_file, monkeypatch
):
    sessions, tenant = committed
    await load(sessions, tenant, write_file(range(1, 11)))
    await leave_tables_behind(sessions, tenant, write_file, monkeypatch)
    left = await tables(owner_engine, tenant)
    unattached = [row for row in left if not row[1]]
    assert [(attached, readable) for _, attached, _, readable in unattached] == [(False, False)]
    [(leftover, *_)] = unattached
    async with UnitOfWork(sessions).for_tenant(tenant) as uow:
        with pytest.raises(ProgrammingError, match="permission denied"):
            await uow.session.execute(text(f'SELECT count(*) FROM "{leftover}"'))

    monkeypatch.setattr(parallel_build, "PARALLEL_BUILD_BYTES", 1 << 62)  # in one transaction, too
    report = await load(sessions, tenant, write_file(range(1, 31)))
    assert report.total == 30
    assert [attached for _, attached, _, _ in await tables(owner_engine, tenant)] == [True]


async def test_the_server_drops_what_killed_imports_left_when_it_starts(
    committed, owner_engine, every_file_is_big, write_file, monkeypatch
):
    sessions, tenant = committed
    await load(sessions, tenant, write_file(range(1, 11)))
    await leave_tables_behind(sessions, tenant, write_file, monkeypatch)
    assert len(await tables(owner_engine, tenant)) == 2

    await parallel_build.drop_every_leftover(lambda: UnitOfWork(sessions))
    assert [attached for _, attached, _, _ in await tables(owner_engine, tenant)] == [True]
    assert await visible_ids(sessions, tenant) == list(range(1, 11))


@pytest.mark.parametrize("failure", ["repeated ids", "shrink"])
async def test_a_big_replace_refused_after_its_copy_leaves_no_table(
    committed, owner_engine, every_file_is_big, write_file, failure
):
    sessions, tenant = committed
    await load(sessions, tenant, write_file(range(1, 101)))
    before = await tables(owner_engine, tenant)
    refused = write_file([1, 2, 1]) if failure == "repeated ids" else write_file(range(1, 6))
    with pytest.raises(InvalidCsv if failure == "repeated ids" else ShrinkRefused):
        await load(sessions, tenant, refused)
    assert await tables(owner_engine, tenant) == before
    assert await visible_ids(sessions, tenant) == list(range(1, 101))
