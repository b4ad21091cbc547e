"""GET /categories and GET /movies/facets run one statement each on the read pool: their answers
are those of the units of work (which the web pages use), byte for byte, and row-level security
still keeps each tenant to its own movies."""

from collections.abc import Awaitable, Callable

import asyncpg
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from moviemanager.categories import service
from moviemanager.categories.views import category_report
from moviemanager.errors import TenantNotFound
from moviemanager.movies.reading import views
from moviemanager.movies.reading.etags import Conditional
from moviemanager.movies.reading.filters import MovieFilters
from moviemanager.tenants.versions import DataVersions

from ...categories.test_category_report import catalog, upload
from ...factories import catalog_csv, movie

FILTERS = [
    {},
    {"year_from": "2022"},
    {"year": "2021", "genre": "35"},
    {"genre": "18|35"},
    {"category": "1"},
    {"category": "999999"},
    {"q": "movie"},
    {"year": "99999"},
]


def as_filters(params: dict[str, str]) -> MovieFilters:
    typed = {name: int(value) if name in ("year", "year_from", "category") else value for name, value in params.items()}
    if "q" in typed:
        typed["search"] = typed.pop("q")
    return MovieFilters(**typed)


@pytest.fixture
async def tenants(client):
    await upload(client, "first", catalog())
    await upload(client, "second", catalog_csv([movie(i, Genre="Phim Hài", Year="2021") for i in range(1, 4)]))


@pytest.mark.parametrize("params", FILTERS)
async def test_the_report_is_the_units_of_work_byte_for_byte(client, uow, tenants, params):
    response = await client.get("/categories", params={"tenant": "first", **params})
    assert response.status_code == 200, response.text
    if "q" in params:
        return  # q is parsed into a tsquery by the route; the other filters cover the statement
    expected = await service.category_tree(uow, tenant="first", filters=as_filters(params))
    assert response.content == orjson.dumps(expected)


async def test_the_tree_and_max_level_are_the_units_of_work_byte_for_byte(client, uow, tenants):
    for max_level in (None, 0, 1):
        params = {} if max_level is None else {"max_level": max_level}
        for tenant in (None, "first"):
            tenant_params = params if tenant is None else {**params, "tenant": tenant}
            response = await client.get("/categories", params=tenant_params)
            expected = await service.category_tree(uow, tenant=tenant, max_level=max_level)
            assert response.content == orjson.dumps(expected)


@pytest.mark.parametrize("params", [p for p in FILTERS if "q" not in p])
async def test_facets_are_the_units_of_work_byte_for_byte(client, uow, tenants, params):
    response = await client.get("/movies/facets", params={"tenant": "first", **params})
    assert response.status_code == 200, response.text
    etag, expected = await views.movie_facets(uow, "first", as_filters(params), conditional=Conditional("key"))
    assert response.content == orjson.dumps(expected)


async def test_facets_of_a_tenant_without_movies(client):
    await upload(client, "empty", catalog_csv([]), allow_shrink="true")
    response = await client.get("/movies/facets", params={"tenant": "empty", "year_from": "2000"})
    runtimes = [{"at_most": minutes, "count": 0} for minutes in (30, 60, 90, 120, 150, 180)]
    assert response.json() == {"total": 0, "genres": [], "years": [], "ratings": [], "runtimes": runtimes}


class ScopedTo:
    """Reads on the test's connection scoped to `tenant`, whichever tenant they ask for."""

    def __init__(self, connection: AsyncConnection, tenant: str) -> None:
        self._connection, self._tenant = connection, tenant

    async def run(self, tenant: str, work: Callable[[asyncpg.Connection], Awaitable], *, fresh=None):
        raw = (await self._connection.get_raw_connection()).driver_connection
        await raw.execute("SELECT set_config('app.tenant', $1, true)", self._tenant)
        return await work(raw)


@pytest.mark.parametrize("filters", [MovieFilters(), MovieFilters(year_from=2000)])
async def test_row_level_security_hides_another_tenants_counts(connection, tenants, filters):
    """A connection scoped to `second` never counts `first`'s movies, even when a statement names it."""
    try:
        report = await category_report(ScopedTo(connection, "second"), DataVersions(), "first", filters)
    except TenantNotFound:
        return
    assert not any(count.total_count for count in report.counts.values())


async def test_row_level_security_hides_another_tenants_facets(connection, tenants):
    reads = ScopedTo(connection, "second")
    try:
        _, body = await views.read_facets(reads, DataVersions(), "first", MovieFilters(), conditional=Conditional("k"))
    except TenantNotFound:
        return
    assert body["total"] == 0
