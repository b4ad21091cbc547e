"""GET /movies: sorts, keyset cursors, range filters, search, facets, conditional requests."""

import base64

import pytest

from moviemanager.movies.reading.ordering import SORTS

from ...factories import catalog_csv, movie

TITLES = ["Hài Hước", "Stranger Things", "Ánh Sáng", "anh sang", "Zorro", "Đất Rừng", "Bão", "bao"]
GENRES = ["Phim Hài", "Phim Hành Động", "Phim Tài Liệu"]


async def upload(client, tenant: str, rows: list[dict[str, str]], **params):
    response = await client.post(
        "/reload", params={"tenant": tenant, **params}, files={"file": ("c.csv", catalog_csv(rows), "text/csv")}
    )
    assert response.status_code == 200, response.text
    return response.json()


def varied(count: int) -> list[dict[str, str]]:
    """Ties in every sort key, unknown years and ratings, accents in titles."""
    return [
        movie(
            i,
            Movie_Name=TITLES[i % len(TITLES)],
            Genre=", ".join({GENRES[i % 3], GENRES[i % 2]}),
            Year="" if i % 11 == 0 else str(2000 + i % 4),
            Rating="" if i % 13 == 0 else f"{i % 5}.5",
            Runtime=f"{60 + i % 7 * 20} phút",
            Overview="Một câu chuyện về ánh sáng." if i % 9 == 0 else "Chuyện thường ngày.",
        )
        for i in range(1, count + 1)
    ]


@pytest.fixture
async def catalog(client):
    await upload(client, "alpha", varied(60))


async def walk(client, params: dict) -> list[dict]:
    """Every page of a listing, following Link rel=next."""
    movies: list[dict] = []
    response = await client.get("/movies", params={"tenant": "alpha", **params})
    while True:
        assert response.status_code == 200, response.text
        movies += response.json()
        link = response.headers.get("Link")
        if link is None:
            return movies
        response = await client.get(link[1 : link.index(">")])


def sort_value(sort: str, shown: dict):
    field = sort.lstrip("-")
    if field == "rating":
        return -1 if shown["rating"] is None else shown["rating"]
    if field == "year":
        return shown["year"] or 0
    if field == "title":
        return shown["movie_name"].casefold().replace("đ", "d").translate(str.maketrans("áàã", "aaa"))
    return int(shown["tmdb_id"])


@pytest.mark.parametrize("sort", [sort for sort in SORTS if sort != "relevance"])
@pytest.mark.parametrize("filters", [{}, {"genre": "phim hai", "year_from": 2001}])
async def test_walking_every_page_gives_each_movie_once_in_order(client, catalog, sort, filters):
    everything = await walk(client, {"sort": sort, **filters, "limit": 1000})
    paged = await walk(client, {"sort": sort, **filters, "limit": 7})
    assert len(paged) > 7
    ids = [m["tmdb_id"] for m in paged]
    assert len(set(ids)) == len(ids), "a movie was listed twice"
    assert sorted(ids) == sorted(m["tmdb_id"] for m in everything)
    keys = [(sort_value(sort, m), int(m["tmdb_id"])) for m in paged]
    assert keys == sorted(keys, reverse=sort.startswith("-"))


async def test_search_pages_by_relevance(client, catalog):
    paged = await walk(client, {"q": "anh sang", "limit": 3})
    # Title matches (weight A) first, then movies whose overview only mentions it.
    in_title = [m for m in paged if m["movie_name"] in ("Ánh Sáng", "anh sang")]
    assert paged[: len(in_title)] == in_title
    assert (
        len(paged)
        == len({m["tmdb_id"] for m in paged})
        == len(in_title)
        + sum(1 for i in range(1, 61) if i % 9 == 0 and TITLES[i % len(TITLES)] not in ("Ánh Sáng", "anh sang"))
    )


RANKED = [
    # (tmdb_id, title, original title, overview), in the order relevance gives them for q=nguoi gac.
    (8, "NGƯỜI GÁC", "", "Một câu chuyện."),  # the title begins with the words: shortest title first,
    (9, "Người Gạc", "", "Một câu chuyện."),  # … equal folded titles by TMDB id,
    (5, "Người Gác Đèn", "The Keeper", "Một câu chuyện."),
    (3, "Người Gác Đèn Sông Hương", "", "Một câu chuyện."),
    (7, "Người Gác-Đèn", "", "Một câu chuyện."),  # … "-" after " " (titles compare byte by byte)
    (1, "Ngọn Hải Đăng", "Nguoi Gac Xua", "Một câu chuyện."),  # every word in a title, by TMDB id
    (4, "Cuối Đời Người Gác Đèn", "", "Một câu chuyện."),
    (11, "Gác Người", "", "Không ai."),
    (2, "Bến Cảng", "Harbour", "Người gác cổng già."),  # a word only in the overview, by TMDB id
    (6, "Gác Xép", "Attic", "Người lạ."),  # the words split between title and overview
]
MISS = (10, "Người Lạ", "", "Một câu chuyện.")


async def test_search_relevance_tiers_and_their_cursor(client):
    rows = [movie(i, Movie_Name=name, Original_Title=original, Overview=text) for i, name, original, text in RANKED]
    await upload(client, "alpha", [*rows, movie(MISS[0], Movie_Name=MISS[1], Overview=MISS[3])])
    expected = [str(i) for i, *_ in RANKED]
    for limit in (1, 2, 3, 1000):
        walked = await walk(client, {"q": "nguoi gac", "limit": limit})
        assert [m["tmdb_id"] for m in walked] == expected, limit
    offset = await client.get("/movies", params={"tenant": "alpha", "q": "nguoi gac", "limit": 3, "offset": 4})
    assert [m["tmdb_id"] for m in offset.json()] == expected[4:7]


async def test_search_relevance_with_other_filters(client, catalog):
    filtered = {"q": "anh sang", "genre": "phim hai", "year_from": 2001}
    paged = await walk(client, {**filtered, "limit": 2})
    whole = await walk(client, {**filtered, "limit": 1000})
    assert paged == whole and len(paged) > 2
    everything = await walk(client, {"q": "anh sang", "limit": 1000})
    assert {m["tmdb_id"] for m in paged} == {
        m["tmdb_id"] for m in everything if "Phim Hài" in m["genres"] or "Comedy" in m["genres"]
    } & {m["tmdb_id"] for m in everything if (m["year"] or 0) >= 2001}


@pytest.mark.parametrize(
    ("q", "title"),
    [
        ("hai huoc", "Hài Hước"),
        ("Hài Hước", "Hài Hước"),
        ("HAI HƯỚC", "Hài Hước"),
        ("stran", "Stranger Things"),
        ("stranger thi", "Stranger Things"),
        ("stranger t", "Stranger Things"),  # a last word of one letter waits for the next
        ("dat rung", "Đất Rừng"),
    ],
)
async def test_search_ignores_case_and_accents_and_completes_the_last_word(client, catalog, q, title):
    found = (await client.get("/movies", params={"tenant": "alpha", "q": q, "limit": 1000})).json()
    assert found and {m["movie_name"] for m in found} == {title}


async def test_search_reads_original_titles_and_overviews(client, catalog):
    found = (await client.get("/movies", params={"tenant": "alpha", "q": "movie 12", "limit": 1000})).json()
    assert [m["tmdb_id"] for m in found] == ["12"]  # factories: Original Title "Movie <id>"
    about_light = (await client.get("/movies", params={"tenant": "alpha", "q": "câu chuyện", "limit": 1000})).json()
    assert {m["tmdb_id"] for m in about_light} == {str(i) for i in range(9, 61, 9)}


async def test_search_with_no_words_is_400(client, catalog):
    response = await client.get("/movies", params={"tenant": "alpha", "q": " !? "})
    assert response.status_code == 400 and "q" in response.json()["detail"]
    response = await client.get("/movies", params={"tenant": "alpha", "sort": "relevance"})
    assert response.status_code == 400 and "q" in response.json()["detail"]


async def test_range_filters(client, catalog):
    rows = varied(60)

    def expected(keep) -> list[str]:
        return [r["TMDB ID"] for r in rows if keep(r)]

    async def ids(**params) -> list[str]:
        return [m["tmdb_id"] for m in await walk(client, {**params, "limit": 1000})]

    assert await ids(year_from=2002) == expected(lambda r: r["Year"] and int(r["Year"]) >= 2002)
    assert await ids(year_to=2001) == expected(lambda r: r["Year"] and int(r["Year"]) <= 2001)
    assert await ids(rating_gte=2.5, rating_lte=3.5) == expected(lambda r: r["Rating"] in ("2.5", "3.5"))
    assert await ids(runtime_lte=100) == expected(lambda r: int(r["Runtime"].split()[0]) <= 100)
    assert await ids(year_from=2003, year_to=2001) == []


async def test_a_cursor_survives_another_tenants_reload(client, catalog):
    await upload(client, "beta", varied(5))
    first = await client.get("/movies", params={"tenant": "alpha", "sort": "-rating", "limit": 10})
    link = first.headers["Link"]
    await upload(client, "beta", varied(8))
    second = await client.get(link[1 : link.index(">")])
    assert second.status_code == 200
    assert not {m["tmdb_id"] for m in first.json()} & {m["tmdb_id"] for m in second.json()}


def tampered(cursor: str) -> str:
    payload, tag = cursor.split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[-2] = ord("9") if raw[-2] != ord("9") else ord("8")  # another TMDB id
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode() + "." + tag


async def test_altered_or_misused_cursors_are_400(client, catalog):
    first = await client.get("/movies", params={"tenant": "alpha", "sort": "title", "limit": 5})
    cursor = first.headers["Link"].split("cursor=")[1].split(">")[0]
    for bad in (tampered(cursor), cursor[:-2], "abc", cursor + ".x", "", "ünïcode.x"):
        response = await client.get("/movies", params={"tenant": "alpha", "sort": "title", "cursor": bad})
        assert response.status_code == 400, (bad, response.text)
        assert "cursor" in response.json()["detail"]
    other_sort = await client.get("/movies", params={"tenant": "alpha", "sort": "-title", "cursor": cursor})
    assert other_sort.status_code == 400 and "another listing" in other_sort.json()["detail"]
    await upload(client, "beta", varied(5))
    other_tenant = await client.get("/movies", params={"tenant": "beta", "sort": "title", "cursor": cursor})
    assert other_tenant.status_code == 400
    params = {"tenant": "alpha", "sort": "title", "cursor": cursor, "offset": 5}
    assert (await client.get("/movies", params=params)).status_code == 400


async def test_etag_changes_after_a_reload_of_the_tenant_and_only_then(client, catalog):
    params = {"tenant": "alpha", "genre": "phim hai", "limit": 5}
    first = await client.get("/movies", params=params)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = await client.get("/movies", params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    assert (await client.get("/movies", params={**params, "limit": 6})).headers["ETag"] != etag

    await upload(client, "beta", varied(5))  # another tenant
    await upload(client, "alpha", varied(61), dry_run="true")  # changes nothing
    assert (await client.get("/movies", params=params, headers={"If-None-Match": etag})).status_code == 304

    await upload(client, "alpha", varied(61))
    after = await client.get("/movies", params=params, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag


async def test_movie_detail_has_an_etag(client, catalog):
    first = await client.get("/movies/12", params={"tenant": "alpha"})
    assert first.json()["tmdb_id"] == "12"
    again = await client.get("/movies/12", params={"tenant": "alpha"}, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


async def test_a_revalidation_reads_no_movie(client, catalog, connection):
    from .test_statement_counts import count_statements

    etag = (await client.get("/movies", params={"tenant": "alpha"})).headers["ETag"]
    async with count_statements(connection) as statements:
        response = await client.get("/movies", params={"tenant": "alpha"}, headers={"If-None-Match": f"W/{etag}"})
    assert response.status_code == 304
    assert not [sql for sql in statements if "movies" in sql], statements


@pytest.mark.parametrize("filters", [{}, {"year_from": 2001, "q": "chuyen"}, {"category": 1, "year_from": 2001}])
async def test_facets_equal_the_listing_counts(client, catalog, filters):
    response = await client.get("/movies/facets", params={"tenant": "alpha", **filters})
    assert response.status_code == 200, response.text
    facets = response.json()

    async def listed(**more) -> int:
        response = await client.get("/movies", params={"tenant": "alpha", **filters, **more, "count": "exact"})
        return int(response.headers["X-Total-Count"])

    assert facets["total"] == await listed()
    assert {g["name"] for g in facets["genres"]} <= set(GENRES)
    for genre in facets["genres"]:
        assert genre["count"] == await listed(genre=genre["name"]), genre
    assert sum(year["count"] for year in facets["years"]) == facets["total"]
    for year in facets["years"]:
        if year["year"] is not None:
            assert year["count"] == await listed(year=year["year"]), year
    assert sum(bucket["count"] for bucket in facets["ratings"]) == facets["total"]
    for bucket in facets["ratings"]:
        if bucket["from"] is not None:
            assert bucket["count"] == await listed(rating_gte=bucket["from"], rating_lte=bucket["from"] + 0.9)
    assert [runtime["at_most"] for runtime in facets["runtimes"]] == [30, 60, 90, 120, 150, 180]
    for runtime in facets["runtimes"]:
        assert runtime["count"] == await listed(runtime_lte=runtime["at_most"]), runtime
    assert response.headers["ETag"]


@pytest.mark.parametrize("path", ["/movies", "/movies/facets"])
async def test_an_impossible_filter_beside_others_matches_nothing(client, catalog, path):
    for impossible in ({"year": 99_999}, {"genre": "a\x00b"}, {"category": 2**40}):
        params = {"tenant": "alpha", "genre": "hai", "rating_gte": 1, "q": "chuyen", **impossible}
        response = await client.get(path, params=params)
        assert response.status_code == 200, (impossible, response.text)
        assert response.json() == [] if path == "/movies" else response.json()["total"] == 0
