"""GET /movies and GET /movies/{tmdb_id}: fields, filters, paging, tenants."""

import pytest

from moviemanager.movies.reading.filters import MovieFilters

from ...factories import catalog_csv, movie


async def upload(client, tenant: str, data: bytes):
    return await client.post("/reload", params={"tenant": tenant}, files={"file": ("c.csv", data, "text/csv")})


@pytest.fixture
async def catalog(client):
    rows = [
        movie(10, Movie_Name="Hài Hước Mỗi Ngày", Genre="Phim Hài, Phim Nhạc", Year="2024"),
        movie(20, Genre="Phim Hài", Year="2023"),
        movie(30, Genre="Phim Chính Kịch", Year="2024", Rating="", Runtime="64 phút/tập"),
        movie(40, Genre="Sci-Fi & Fantasy, Action & Adventure", Year=""),
    ]
    response = await upload(client, "alpha", catalog_csv(rows))
    assert response.status_code == 200, response.text
    return rows


async def test_lists_movies_with_the_seed_fields(client, catalog):
    response = await client.get("/movies", headers={"X-Tenant": "alpha"})
    assert response.status_code == 200
    movies = response.json()
    assert [m["tmdb_id"] for m in movies] == ["10", "20", "30", "40"]
    first = movies[0]
    assert first == {
        "movie_name": "Hài Hước Mỗi Ngày",
        "movie_link": "https://phimmoi.example/phim/10",
        "fshare_link": "",
        "original_title": "Movie 10",
        "genre": "Phim Hài, Phim Nhạc",
        "year": 2024,
        "runtime": "95 phút",
        "rating": 7.1,
        "overview": "Một câu chuyện, với dấu phẩy.",
        "poster_url": "",
        "backdrop_url": "",
        "tmdb_id": "10",
        "category_id": 3,
        "categories": [{"id": 3, "name": "Comedy"}, {"id": 32, "name": "Music"}],
        "rated": True,
        "genres": ["Phim Hài", "Phim Nhạc"],
        "runtime_minutes": 95,
        "runtime_per_episode": False,
        "extra": {},
    }
    assert movies[2]["rating"] == 0 and movies[2]["rated"] is False
    assert movies[2]["runtime_minutes"] == 64 and movies[2]["runtime_per_episode"] is True
    assert movies[3]["year"] is None


async def test_tenant_can_come_from_query_or_header(client, catalog):
    by_query = await client.get("/movies", params={"tenant": "alpha"})
    by_header = await client.get("/movies", headers={"X-Tenant": "alpha"})
    both = await client.get("/movies", params={"tenant": "alpha"}, headers={"X-Tenant": "alpha"})
    assert by_query.json() == by_header.json() == both.json()


@pytest.mark.parametrize(
    ("genre", "expected"),
    [
        ("Phim Hài", ["10", "20"]),
        ("phim hài", ["10", "20"]),
        ("PHIM HAI", ["10", "20"]),
        ("Phim Nhạc", ["10"]),
        ("Sci-Fi & Fantasy", ["40"]),
        ("Phim", []),  # a genre matches whole, never as a substring
        ("Phim Hài, Phim Nhạc", ["10"]),  # a,b: both genres
    ],
)
async def test_genre_filter_matches_whole_names_ignoring_case_and_accents(client, catalog, genre, expected):
    response = await client.get("/movies", params={"tenant": "alpha", "genre": genre})
    assert [m["tmdb_id"] for m in response.json()] == expected


async def test_year_and_genre_filters_combine(client, catalog):
    by_year = await client.get("/movies", params={"tenant": "alpha", "year": 2024})
    assert [m["tmdb_id"] for m in by_year.json()] == ["10", "30"]
    both = await client.get("/movies", params={"tenant": "alpha", "year": 2024, "genre": "phim hai"})
    assert [m["tmdb_id"] for m in both.json()] == ["10"]


async def test_limit_pages_with_a_cursor_link_and_counts_when_asked(client, catalog):
    first = await client.get("/movies", params={"tenant": "alpha", "limit": 3})
    assert [m["tmdb_id"] for m in first.json()] == ["10", "20", "30"]
    assert "X-Total-Count" not in first.headers
    link = first.headers["Link"]
    assert link.startswith("<http://testserver/movies?tenant=alpha&limit=3&cursor=") and link.endswith('>; rel="next"')
    second = await client.get(link[1 : link.index(">")])
    assert [m["tmdb_id"] for m in second.json()] == ["40"]
    assert "Link" not in second.headers

    counted = await client.get("/movies", params={"tenant": "alpha", "limit": 3, "count": "exact"})
    assert counted.headers["X-Total-Count"] == "4"
    estimated = await client.get("/movies", params={"tenant": "alpha", "limit": 3, "count": "estimated"})
    assert int(estimated.headers["X-Total-Count"]) >= 1
    by_offset = await client.get("/movies?tenant=alpha&limit=3&offset=3")
    assert [m["tmdb_id"] for m in by_offset.json()] == ["40"]


async def test_a_single_page_has_no_paging_headers(client, catalog):
    response = await client.get("/movies", params={"tenant": "alpha"})
    assert "Link" not in response.headers and "X-Total-Count" not in response.headers


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": -1},
        {"limit": "ten"},
        {"offset": -1},
        {"offset": 10**20},
        {"offset": 10_001},
        {"sort": "name"},
        {"sort": "-tmdb_id"},
        {"count": "yes"},
        {"rating_gte": 11},
        {"rating_lte": "nan"},
        {"year_from": -1},
        {"q": "x" * 201},
        {"year": "x"},
        {"year": "9" * 5000},
    ],
)
async def test_paging_and_filter_parameters_out_of_range_are_422(client, catalog, params):
    response = await client.get("/movies", params={"tenant": "alpha", **params})
    assert response.status_code == 422
    assert "detail" in response.json()


@pytest.mark.parametrize("params", [{"genre": "Phim\x00Hài"}, {"year": 10**30}, {"genre": "' OR 1=1 --"}])
async def test_odd_filter_values_match_nothing_rather_than_fail(client, catalog, params):
    response = await client.get("/movies", params={"tenant": "alpha", **params})
    assert response.status_code == 200
    assert response.json() == []


async def test_get_one_movie(client, catalog):
    response = await client.get("/movies/30", headers={"X-Tenant": "alpha"})
    assert response.status_code == 200
    assert response.json()["tmdb_id"] == "30"


@pytest.mark.parametrize("tmdb_id", ["31", "abc", "99999999999999999999999", "-1"])
async def test_unknown_movie_is_404(client, catalog, tmdb_id):
    response = await client.get(f"/movies/{tmdb_id}", headers={"X-Tenant": "alpha"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Movie not found"}


async def test_same_tmdb_id_in_two_tenants_stays_apart(client):
    await upload(client, "alpha", catalog_csv([movie(5, Movie_Name="Alpha Five"), movie(6)]))
    await upload(client, "beta", catalog_csv([movie(5, Movie_Name="Beta Five")]))
    alpha = await client.get("/movies/5", params={"tenant": "alpha"})
    beta = await client.get("/movies/5", params={"tenant": "beta"})
    assert alpha.json()["movie_name"] == "Alpha Five"
    assert beta.json()["movie_name"] == "Beta Five"
    assert [m["tmdb_id"] for m in (await client.get("/movies?tenant=beta")).json()] == ["5"]
    assert (await client.get("/movies/6", params={"tenant": "beta"})).status_code == 404


async def test_registered_tenant_without_movies_lists_nothing(client, uow):
    async with uow:
        await uow.tenants.add_and_lock("empty", wait=1)
        await uow.commit()
    response = await client.get("/movies", params={"tenant": "empty"})
    assert response.status_code == 200
    assert response.json() == []
    # The long reads read an empty stand-in for its partition, filters and all.
    filters = MovieFilters(genre="35", year_from=2000, rating_gte=5, runtime_lte=90)
    assert await uow.reading(lambda: _facets_and_export(uow, filters)) == ([("total", None, None, 0)], [], ())


async def _facets_and_export(uow, filters: MovieFilters):
    async with uow.for_tenant("empty"):
        movies = uow.movies("empty")
        rows = list(await movies.facets(filters))
        exported = [row async for row in await movies.stream_all(filters)]
        return rows, exported, await movies.extra_columns(filters)


@pytest.mark.parametrize("path", ["/movies", "/movies/1"])
@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({}, {}, 400),
        ({"tenant": "unknown"}, {"X-Tenant": "alpha"}, 404),  # the parameter names the tenant
        ({"tenant": "Bad Name"}, {}, 422),
        ({}, {"X-Tenant": "../etc"}, 422),
        ({"tenant": "x" * 65}, {}, 422),
        ({"tenant": ""}, {}, 422),
        ({"tenant": "unknown"}, {}, 404),
    ],
)
async def test_tenant_errors(client, catalog, path, params, headers, status):
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == status
    detail = response.json()["detail"]
    if status == 422:  # FastAPI's validation error: where, what was sent, and the pattern it missed
        [error] = detail
        assert error["loc"][-1] in ("tenant", "x-tenant")
        assert "^[a-z0-9][a-z0-9_-]{0,63}$" in error["msg"]
    else:
        assert isinstance(detail, str)


async def test_tenants_are_listed_sorted(client):
    await upload(client, "zeta", catalog_csv([movie(1)]))
    await upload(client, "alpha", catalog_csv([movie(1)]))
    response = await client.get("/tenants")
    assert response.status_code == 200
    assert response.json() == ["alpha", "zeta"]
