"""GET /categories?tenant=…: per-category counts, equal to what GET /movies?category=… lists."""

import asyncio
import csv
import io
import time

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from moviemanager.categories.repository import CategoryRepository
from moviemanager.config import PACKAGED_CSV_DIR
from moviemanager.movies.category_counts import category_set_sql
from moviemanager.movies.importing.parse_workers import CategoryPlan, parse_to_copy
from moviemanager.movies.importing.service import load_default_catalogs
from moviemanager.movies.reading.ordering import GENRE_KEYS_SQL
from moviemanager.uow import UnitOfWork

from ..factories import catalog_csv, movie

GENRE_CELLS = [
    "Phim Hài, Phim Chính Kịch",
    "Phim Hình Sự",  # Crime Thriller, under Thriller, under Action
    "Action & Adventure",  # Action and Adventure: one movie, counted once under Action
    "Phim Hành Động, Phim Phiêu Lưu, Phim Gây Cấn",
    "Phim Lãng Mạn, Phim Lịch Sử",  # both below Drama
    "Sci-Fi & Fantasy",
    "Phim Bollywood",  # no category
    "Kids, Family",
    "Phim Kinh Dị",
    "Phim Hoạt Hình, Phim Hài",
    "",
]


def catalog(count: int = 66) -> bytes:
    rows = [movie(i, Genre=GENRE_CELLS[i % len(GENRE_CELLS)], Year=str(2020 + i % 5)) for i in range(1, count + 1)]
    return catalog_csv(rows)


async def upload(client, tenant: str, data: bytes, **params):
    response = await client.post(
        "/reload", params={"tenant": tenant, **params}, files={"file": ("c.csv", data, "text/csv")}
    )
    assert response.status_code == 200, response.text
    return response.json()


def flatten(nodes, level: int = 0):
    for node in nodes:
        yield level, node
        yield from flatten(node["subcategories"], level + 1)


async def listed(client, tenant: str, **params) -> list[str]:
    """Every movie GET /movies lists, following the pages."""
    ids: list[str] = []
    offset = 0
    while True:
        response = await client.get("/movies", params={"tenant": tenant, "limit": 7, "offset": offset, **params})
        assert response.status_code == 200, response.text
        page = [m["tmdb_id"] for m in response.json()]
        ids += page
        if "Link" not in response.headers:
            return ids
        offset += 7


async def assert_consistent(client, tenant: str, **filters) -> list:
    report = (await client.get("/categories", params={"tenant": tenant, **filters})).json()
    nodes = list(flatten(report))
    for _, node in nodes:
        movies = await listed(client, tenant, category=node["id"], **filters)
        assert len(movies) == len(set(movies))
        assert node["total_count"] == len(movies), (node["name"], filters)
        assert node["movie_count"] <= node["total_count"]
    return nodes


async def assert_stored_counts_are_live(connection, tenant: str) -> None:
    session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint")
    repository = CategoryRepository(session)
    # As the tenant: row-level security shows no other tenant's counts or links (none without one).
    before = await session.scalar(
        text("SELECT current_setting('app.tenant', true), set_config('app.tenant', :tenant, true)"), {"tenant": tenant}
    )
    stored = await repository.stored_counts(tenant)
    assert stored and stored == await repository.live_counts(tenant, [])
    await session.execute(text("SELECT set_config('app.tenant', :before, true)"), {"before": before or ""})
    await session.close()


@pytest.mark.parametrize("filters", [{}, {"year": 2022}, {"genre": "35"}, {"genre": "hai|Action", "year": 2021}])
async def test_every_total_equals_the_movies_listed_under_it(client, connection, filters):
    await upload(client, "report", catalog())
    nodes = await assert_consistent(client, "report", **filters)
    assert any(node["total_count"] for _, node in nodes)
    await assert_stored_counts_are_live(connection, "report")


async def test_counts_and_links(client):
    await upload(client, "report", catalog(11))
    report = {node["id"]: node for _, node in flatten((await client.get("/categories?tenant=report")).json())}
    # Action: movies 2 (Action & Adventure) and 3 (Action, Adventure, Thriller), and 1 through Crime Thriller.
    assert (report[1]["movie_count"], report[1]["total_count"]) == (2, 3)
    assert (report[7]["movie_count"], report[7]["total_count"]) == (2, 2)
    assert (report[6]["movie_count"], report[6]["total_count"]) == (1, 2)
    assert (report[2]["movie_count"], report[2]["total_count"]) == (1, 2)  # Drama: 1 itself, 5 below
    assert (report[28]["movie_count"], report[28]["total_count"]) == (1, 1)  # Family, and Kids below: one movie
    assert report[25] == {"id": 25, "name": "Dystopian", "movie_count": 0, "total_count": 0, "subcategories": []}
    one = (await client.get("/movies/2", params={"tenant": "report"})).json()
    assert one["categories"] == [{"id": 1, "name": "Action"}, {"id": 7, "name": "Adventure"}]
    assert one["category_id"] == 1
    uncategorised = (await client.get("/movies/6", params={"tenant": "report"})).json()
    assert uncategorised["categories"] == [] and uncategorised["category_id"] is None


async def test_max_level_rolls_the_lower_levels_up(client):
    await upload(client, "report", catalog())
    full = {node["id"]: node for _, node in flatten((await client.get("/categories?tenant=report")).json())}
    roots = (await client.get("/categories", params={"tenant": "report", "max_level": 0})).json()
    for root in roots:
        assert root["total_count"] == full[root["id"]]["total_count"]
        assert root["subcategories"] == []


async def test_without_a_tenant_the_tree_has_no_counts(client):
    tree = (await client.get("/categories")).json()
    assert all("movie_count" not in node and "total_count" not in node for _, node in flatten(tree))
    assert (await client.get("/categories", params={"tenant": "nobody"})).status_code == 404


async def test_merge_and_dry_run_keep_links_and_counts_right(client, connection):
    await upload(client, "report", catalog(20))
    before = (await client.get("/categories?tenant=report")).json()
    changed = [movie(1, Genre="Phim Kinh Dị"), movie(500, Genre="Phim Tài Liệu, Reality")]
    await upload(client, "report", catalog_csv(changed), mode="merge", dry_run="true")
    assert (await client.get("/categories?tenant=report")).json() == before
    await upload(client, "report", catalog_csv(changed), mode="merge")
    one = (await client.get("/movies/1", params={"tenant": "report"})).json()
    assert one["categories"] == [{"id": 4, "name": "Horror"}]
    await assert_consistent(client, "report")
    await assert_stored_counts_are_live(connection, "report")
    documentary = [n for _, n in flatten((await client.get("/categories?tenant=report")).json()) if n["id"] == 27]
    assert documentary[0]["total_count"] == 1


async def test_a_category_filters_the_export_facets_and_counts_as_the_listing(client):
    await upload(client, "report", catalog())
    ids = await listed(client, "report", category=1)  # Action and below
    assert ids
    params = {"tenant": "report", "category": 1}
    exported = (await client.get("/movies", params={**params, "format": "csv"})).text.splitlines()
    column = next(csv.reader(exported[:1])).index("TMDB ID")
    assert sorted(row[column] for row in csv.reader(exported[1:])) == sorted(ids)
    assert (await client.get("/movies/facets", params=params)).json()["total"] == len(ids)
    for count in ("exact", "estimated"):
        response = await client.get("/movies", params={**params, "count": count})
        assert response.status_code == 200 and int(response.headers["X-Total-Count"]) >= 0
    exact = await client.get("/movies", params={**params, "count": "exact"})
    assert int(exact.headers["X-Total-Count"]) == len(ids)


async def test_a_replace_rewrites_the_counts(client, connection):
    await upload(client, "report", catalog(30))
    await upload(client, "report", catalog_csv([movie(i, Genre="Western") for i in range(1, 30)]))
    report = {node["id"]: node for _, node in flatten((await client.get("/categories?tenant=report")).json())}
    assert report[1]["total_count"] == 29 and report[31]["movie_count"] == 29
    assert sum(node["movie_count"] for node in report.values()) == 29
    await assert_stored_counts_are_live(connection, "report")


async def test_default_tenants_have_movies_under_every_root(uow, sessions, client):
    loaded = await load_default_catalogs(lambda: UnitOfWork(sessions), PACKAGED_CSV_DIR)
    assert loaded == ["movies", "trending", "tv_serials"]
    for tenant in loaded:
        roots = (await client.get("/categories", params={"tenant": tenant, "max_level": 0})).json()
        assert all(root["total_count"] > 0 for root in roots), (tenant, roots)
        movies = (await client.get("/movies", params={"tenant": tenant, "limit": 1000})).json()
        assert all(m["categories"] for m in movies), tenant


async def test_a_cycle_inserted_by_hand_is_survived_quickly(client, connection):
    await upload(client, "report", catalog())
    # Cyberpunk (16) and Dystopian (25) made into a loop, cut off from the tree.
    await connection.execute(text("UPDATE categories SET parent_id = 25 WHERE id = 16"))
    started = time.perf_counter()
    report = await asyncio.wait_for(client.get("/categories", params={"tenant": "report"}), timeout=5)
    filtered = await asyncio.wait_for(client.get("/categories", params={"tenant": "report", "year": 2022}), 5)
    in_loop = await asyncio.wait_for(client.get("/movies", params={"tenant": "report", "category": 16}), 5)
    assert time.perf_counter() - started < 1
    assert report.status_code == filtered.status_code == in_loop.status_code == 200
    assert 16 not in [node["id"] for _, node in flatten(report.json())]
    assert in_loop.json() == []


@pytest.mark.parametrize("category", [0, -1, 999, 2**31, 10**20])
async def test_unknown_categories_list_nothing(client, category):
    await upload(client, "report", catalog(5))
    response = await client.get("/movies", params={"tenant": "report", "category": category})
    assert response.status_code in (200, 422)
    if response.status_code == 200:
        assert response.json() == []


async def test_the_parsers_sets_of_categories_are_those_sql_derives_from_the_movies(client, connection):
    await upload(client, "report", catalog())
    mapping = await connection.execute(text("SELECT genre_id, array_agg(category_id) FROM genre_categories GROUP BY 1"))
    plan = CategoryPlan({genre: sorted(categories) for genre, categories in mapping})
    parsed = parse_to_copy(io.BytesIO(catalog()), "report", "fail", None, lambda chunk, lines: True, categories=plan)
    await connection.execute(text("SELECT set_config('app.tenant', 'report', true)"))  # row-level security
    derived = await connection.execute(
        text(
            f"SELECT cats, count(*) FROM (SELECT {category_set_sql(GENRE_KEYS_SQL)} AS cats"
            " FROM movies) AS m WHERE cardinality(cats) > 0 GROUP BY cats"
        )
    )
    sets = {tuple(categories): movies for categories, movies in derived}
    assert sets == parsed.category_sets and len(sets) > 5
    assert any(len(categories) > 1 for categories in sets)


async def test_repeated_ids_skipped_keep_categories_and_counts_right(client, connection):
    rows = [movie(1, Genre="Western"), movie(2, Genre="Phim Hài"), movie(1, Genre="Phim Kinh Dị")]
    report = await upload(client, "report", catalog_csv(rows), on_error="skip")
    assert report["loaded"] == 2 and report["skipped"] == 1
    one = (await client.get("/movies/1", params={"tenant": "report"})).json()
    assert one["categories"] == [{"id": 31, "name": "Western"}]
    await assert_consistent(client, "report")
    await assert_stored_counts_are_live(connection, "report")
