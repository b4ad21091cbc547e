"""The original React front end's calls, replayed with its bodies and headers: every answer keeps
the original API's status, shape and JSON types (the accounts' calls are in test_accounts*.py)."""

import pytest

from moviemanager.config import PACKAGED_CSV_DIR

from ..conftest import ADMIN
from ..factories import HEADER, catalog_csv, movie

# The original's movie (its DTO): text fields never null, `year` int or null, `runtime` text or
# null, `rating` a number, never null, `category_id` int or null.
TEXT_FIELDS = (
    "movie_name",
    "movie_link",
    "fshare_link",
    "original_title",
    "genre",
    "overview",
    "poster_url",
    "backdrop_url",
    "tmdb_id",
)


def assert_original_shape(movie_json: dict) -> None:
    for name in TEXT_FIELDS:
        assert type(movie_json[name]) is str, (name, movie_json[name])
    assert movie_json["year"] is None or type(movie_json["year"]) is int
    assert movie_json["runtime"] is None or type(movie_json["runtime"]) is str
    assert type(movie_json["rating"]) in (int, float)
    assert movie_json["category_id"] is None or type(movie_json["category_id"]) is int
    assert type(movie_json["rated"]) is bool


async def upload(client, tenant: str, data: bytes, **kwargs):
    return await client.post(
        "/reload", params={"tenant": tenant}, files={"file": ("c.csv", data, "text/csv")}, **kwargs
    )


@pytest.fixture
async def sparse(client):
    """A catalog with every optional cell empty in one movie."""
    empty = {name.replace(" ", "_"): "" for name in HEADER if name not in ("Movie Name", "TMDB ID")}
    rows = [movie(1), movie(2, **empty), movie(3, Rating="0")]
    assert (await upload(client, "sparse", catalog_csv(rows))).status_code == 200


@pytest.mark.parametrize("tenant", ["movies", "trending", "tv_serials"])
async def test_every_default_tenants_first_page_has_the_original_types(client, tenant):
    assert (await client.post("/reload", params={"tenant": tenant})).status_code == 200
    response = await client.get("/movies", params={"limit": 20}, headers={"X-Tenant": tenant})
    assert response.status_code == 200
    movies = response.json()
    assert movies
    for movie_json in movies:
        assert_original_shape(movie_json)
        # The crash: the front end renders rating.toFixed(1).
        assert movie_json["rating"] is not None


async def test_an_unrated_movie_answers_rating_0_and_rated_false(client, sparse):
    unrated = (await client.get("/movies/2", headers={"X-Tenant": "sparse"})).json()
    assert_original_shape(unrated)
    assert unrated["rating"] == 0 and unrated["rated"] is False
    rated_zero = (await client.get("/movies/3", headers={"X-Tenant": "sparse"})).json()
    assert rated_zero["rating"] == 0 and rated_zero["rated"] is True
    assert (await client.get("/movies/1", headers={"X-Tenant": "sparse"})).json()["rated"] is True


async def test_empty_text_cells_are_empty_strings(client, sparse):
    empty = (await client.get("/movies/2", headers={"X-Tenant": "sparse"})).json()
    assert_original_shape(empty)
    for name in ("movie_link", "fshare_link", "original_title", "genre", "overview", "poster_url", "backdrop_url"):
        assert empty[name] == "", name
    assert empty["year"] is None and empty["runtime"] is None and empty["category_id"] is None
    for movie_json in (await client.get("/movies", headers={"X-Tenant": "sparse"})).json():
        assert_original_shape(movie_json)


async def test_unrated_movies_stay_unrated_for_filters_and_sorts(client, sparse):
    async def ids(**params):
        response = await client.get("/movies", params={"tenant": "sparse", **params})
        assert response.status_code == 200, response.text
        return [m["tmdb_id"] for m in response.json()]

    assert await ids(rating_lte=0) == ["3"]  # rated 0, not the unrated one
    assert await ids(rating_gte=0) == ["1", "3"]
    assert (await ids(sort="-rating"))[-1] == "2"  # below every rated movie


async def test_export_and_import_round_trip_the_empty_cells(client, sparse):
    exported = (await client.get("/movies.csv", params={"tenant": "sparse"})).content
    assert (await upload(client, "sparse_copy", exported)).status_code == 200
    original = (await client.get("/movies", params={"tenant": "sparse"})).json()
    copy = (await client.get("/movies", params={"tenant": "sparse_copy"})).json()
    assert copy == original
    again = (await client.get("/movies.csv", params={"tenant": "sparse_copy"})).content
    assert again == exported


async def test_search_is_the_originals_name_for_q(client):
    rows = [movie(1, Movie_Name="Robot Hoang Dã"), movie(2, Original_Title="The Wild Robot"), movie(3)]
    await upload(client, "alpha", catalog_csv(rows))
    by_search = await client.get("/movies", params={"limit": 20, "search": "Robot"}, headers={"X-Tenant": "alpha"})
    by_q = await client.get("/movies", params={"limit": 20, "q": "Robot"}, headers={"X-Tenant": "alpha"})
    assert by_search.status_code == 200
    assert [m["tmdb_id"] for m in by_search.json()] == [m["tmdb_id"] for m in by_q.json()]
    assert sorted(m["tmdb_id"] for m in by_search.json()) == ["1", "2"]
    same = await client.get("/movies", params={"search": "Robot", "q": "Robot", "tenant": "alpha"})
    assert same.status_code == 200
    differ = await client.get("/movies", params={"search": "Robot", "q": "Wild", "tenant": "alpha"})
    assert differ.status_code == 400
    assert "q and search" in differ.json()["detail"]


async def test_search_narrows_facets_and_category_counts_too(client):
    await upload(client, "alpha", catalog_csv([movie(1, Movie_Name="Robot"), movie(2)]))
    facets = await client.get("/movies/facets", params={"tenant": "alpha", "search": "robot"})
    assert facets.status_code == 200 and facets.json()["total"] == 1


async def test_an_unknown_parameter_is_refused_not_ignored(client):
    await upload(client, "alpha", catalog_csv([movie(1), movie(2)]))
    response = await client.get("/movies", params={"tenant": "alpha", "serach": "Robot"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "'serach'" in detail
    for accepted in ("search", "q", "genre", "limit", "cursor", "sort"):
        assert accepted in detail
    # A cache-buster is ignored.
    assert (await client.get("/movies", params={"tenant": "alpha", "_": "1733526000"})).status_code == 200


async def test_the_query_parameter_names_the_tenant_over_the_header(client):
    await upload(client, "alpha", catalog_csv([movie(1)]))
    await upload(client, "beta", catalog_csv([movie(2)]))
    listed = await client.get("/movies", params={"tenant": "beta"}, headers={"X-Tenant": "alpha"})
    assert listed.status_code == 200
    assert [m["tmdb_id"] for m in listed.json()] == ["2"]
    assert listed.headers["X-Tenant"] == "beta"
    one = await client.get("/movies/2", params={"tenant": "beta"}, headers={"X-Tenant": "alpha"})
    assert one.status_code == 200 and one.headers["X-Tenant"] == "beta"
    # The same again, from the answers kept in memory when the version is known there.
    again = await client.get("/movies", params={"tenant": "beta"}, headers={"X-Tenant": "alpha"})
    assert again.json() == listed.json() and again.headers["X-Tenant"] == "beta"


async def test_reload_uploads_to_the_tenant_in_the_url(client):
    """The front end's X-Tenant is a client-wide default; its /reload names the tenant in the URL."""
    await upload(client, "trending_copy", catalog_csv([movie(1)]))
    response = await client.post(
        "/reload?tenant=alpha",
        headers={"X-Tenant": "trending_copy"},
        files={"file": ("c.csv", catalog_csv([movie(7), movie(8)]), "text/csv")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["tenant"] == "alpha"
    assert response.headers["X-Tenant"] == "alpha"
    assert [m["tmdb_id"] for m in (await client.get("/movies?tenant=trending_copy")).json()] == ["1"]


@pytest.mark.parametrize(
    "body",
    [b"null", b"{}", b" null\n", b""],
    ids=["null", "empty-object", "null-with-whitespace", "empty"],
)
async def test_reload_default_data_as_axios_sends_it(client, body):
    response = await client.post(
        "/reload?tenant=trending", content=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["source"] == "default"
    expected = (PACKAGED_CSV_DIR / "trending.csv").read_bytes().count(b"phimmoi.example/phim/")
    assert response.json()["loaded"] == expected


@pytest.mark.parametrize("body", [b'{"file": "x"}', b"[]", b"not json", b"0"])
async def test_other_json_bodies_are_still_refused(client, body):
    response = await client.post(
        "/reload?tenant=trending", content=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code == 415
    assert "null or {}" in response.json()["detail"]


async def test_reload_without_a_default_csv_is_404(client):
    response = await client.post(
        "/reload?tenant=nodefault", content=b"null", headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code == 404
