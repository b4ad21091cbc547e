"""The HTML pages over HTTP, without a browser: statuses, the 404 page, static files, size, languages."""

import hashlib
import re

import httpx
import pytest

from moviemanager.web.assets import IMMUTABLE, STATIC_DIR

from ..factories import catalog_csv, movie

TENANT = "webpages"
LONG_OVERVIEW = "Một câu chuyện dài về những con người bình thường, " * 6


async def load(client: httpx.AsyncClient, rows: list[dict[str, str]], tenant: str = TENANT) -> None:
    files = {"file": ("c.csv", catalog_csv(rows), "text/csv")}
    response = await client.post("/reload", params={"tenant": tenant}, files=files)
    assert response.status_code == 200, response.text


def full_movie(tmdb_id: int, **cells: str) -> dict[str, str]:
    """A movie with every cell filled as a real catalog's are."""
    return movie(
        tmdb_id,
        Movie_Name=f"Người Gác Đèn Số {tmdb_id}",
        Original_Title=f"The Lighthouse Keeper Number {tmdb_id}",
        Genre="Phim Chính Kịch, Phim Lãng Mạn, Phim Gia Đình",
        Fshare_Link=f"https://www.fshare.vn/file/ABCDEF{tmdb_id}",
        Overview=LONG_OVERVIEW,
        Poster_URL=f"https://image.tmdb.org/t/p/w500/ZQ9QsTXUuSnH6av1Ib8pp1x{tmdb_id}.jpg",
        Backdrop_URL=f"https://image.tmdb.org/t/p/w1280/0BScJXj675eVq30XYqaNUDqN{tmdb_id}.jpg",
        **cells,
    )


async def test_the_pages_answer_html(client):
    await load(client, [movie(1), movie(2, Rating="")])
    for path in ("/", f"/?tenant={TENANT}", f"/movie/{TENANT}/1", f"/movie/{TENANT}/2", "/admin"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html"), path
    catalog = (await client.get("/", params={"tenant": TENANT})).text
    assert "Phim Số 1" in catalog and "Phim Số 2" in catalog
    assert "unrated" in catalog and "★ 7.1" in catalog and "★ 0.0" not in catalog


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/?tenant=no_such_tenant", 404, "no_such_tenant"),
        ("/?tenant=Not%20A%20Name", 400, "tenant"),
        ("/?year_from=abc", 400, "year_from"),
        ("/?rating_gte=11", 400, "rating_gte"),
        ("/?sort=sideways", 400, "sort"),
        ("/?cursor=garbage", 400, "cursor"),
        ("/?shown=1001", 400, "shown"),
        ("/?shown=0", 400, "shown"),
        ("/?shown=many", 400, "shown"),
        (f"/movie/{TENANT}/999", 404, "not found"),
        (f"/movie/{TENANT}/abc", 404, "not found"),
        ("/movie/no_such_tenant/1", 404, "no_such_tenant"),
        ("/movie/NOT%20VALID/1", 404, "NOT VALID"),
    ],
)
async def test_bad_input_is_an_html_error_page_with_its_detail(client, path, status, detail):
    await load(client, [movie(1)])
    response = await client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert detail.lower() in response.text.lower()
    assert 'role="alert"' in response.text


async def test_the_api_keeps_its_paths_and_json(client):
    await load(client, [movie(1)])
    assert (await client.get("/movies", params={"tenant": TENANT})).json()[0]["tmdb_id"] == "1"
    assert (await client.get("/movies/1", params={"tenant": TENANT})).json()["tmdb_id"] == "1"
    assert (await client.get("/movies/999", params={"tenant": TENANT})).headers["content-type"] == "application/json"
    assert "/" not in (await client.get("/openapi.json")).json()["paths"]


async def test_static_files_are_fingerprinted_and_cached_for_a_year(client):
    page = (await client.get("/admin")).text
    urls = re.findall(r'(/static/[^"\']+)', page)
    assert {url.split("/")[-1].split(".")[0] for url in urls} >= {"app", "icon", "admin"}
    for url in urls:
        name, digest, suffix = url.removeprefix("/static/").split(".")
        assert digest == hashlib.sha256((STATIC_DIR / f"{name}.{suffix}").read_bytes()).hexdigest()[:10]
        response = await client.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == IMMUTABLE
        assert response.content == (STATIC_DIR / f"{name}.{suffix}").read_bytes()
    assert (await client.get("/static/app.css")).status_code == 404
    assert (await client.get("/static/app.0000000000.css")).status_code == 404


async def test_head_of_a_static_file_has_the_get_headers_and_no_body(client):
    url = re.search(r"(/static/app\.[0-9a-f]+\.css)", (await client.get("/admin")).text).group(1)
    got, head = await client.get(url), await client.head(url)
    assert head.status_code == 200 and head.content == b""
    for name in ("content-type", "content-length", "cache-control", "x-content-type-options"):
        assert head.headers[name] == got.headers[name], name
    assert int(head.headers["content-length"]) == len(got.content) > 0
    missing = await client.head("/static/app.0000000000.css")
    assert missing.status_code == 404 and missing.content == b""


async def test_a_page_of_50_movies_is_under_60_kb_and_more_follows(client):
    await load(client, [full_movie(i) for i in range(1, 61)])
    response = await client.get("/", params={"tenant": TENANT})
    assert response.status_code == 200
    assert response.text.count('class="card"') == 50
    assert len(response.content) < 60_000, len(response.content)
    more = re.search(r'class="more" href="([^"]+)"', response.text).group(1).replace("&amp;", "&")
    rest = await client.get(more)
    assert rest.text.count('class="card"') == 10
    assert 'class="more"' not in rest.text


async def test_shown_lists_that_many_movies_in_one_response_and_more_continues_after_them(client):
    await load(client, [movie(i) for i in range(1, 131)])
    response = await client.get("/", params={"tenant": TENANT, "shown": "100"})
    assert response.status_code == 200
    ids = re.findall(r'href="/movie/webpages/(\d+)"', response.text)
    assert ids == [str(i) for i in range(1, 101)]
    more = re.search(r'class="more" href="([^"]+)"', response.text).group(1).replace("&amp;", "&")
    assert "shown" not in more
    rest = (await client.get(more)).text
    assert re.findall(r'href="/movie/webpages/(\d+)"', rest) == [str(i) for i in range(101, 131)]
    fewer = (await client.get("/", params={"tenant": TENANT, "shown": "7", "sort": "-year"})).text
    assert fewer.count('class="card"') == 7
    everything = (await client.get("/", params={"tenant": TENANT, "shown": "1000"})).text
    assert everything.count('class="card"') == 130 and 'class="more"' not in everything


async def test_filters_reach_the_listing_and_the_links_keep_them(client):
    rows = [movie(1, Year="1999", Movie_Name="Người Gác Đèn"), movie(2, Year="2020", Movie_Name="Cơn Bão Thép")]
    await load(client, rows)
    page = (await client.get("/", params={"tenant": TENANT, "year_from": "2000", "genre": "", "q": ""})).text
    assert "Cơn Bão Thép" in page and "Người Gác Đèn" not in page
    assert f"/?tenant={TENANT}&amp;year_from=2000&amp;category=" in page  # the tree's links keep the filters
    searched = (await client.get("/", params={"tenant": TENANT, "q": "nguoi ga"})).text
    assert "Người Gác Đèn" in searched and "Cơn Bão Thép" not in searched


async def test_the_language_follows_lang_then_the_cookie_then_accept_language(client):
    await load(client, [movie(1, Genre="Phim Hài")])
    vietnamese = await client.get("/", params={"tenant": TENANT}, headers={"Accept-Language": "vi-VN,vi;q=0.9"})
    assert '<html lang="vi">' in vietnamese.text and "Bộ lọc" in vietnamese.text
    assert "Phim Hài" in vietnamese.text
    english = await client.get("/", params={"tenant": TENANT}, headers={"Accept-Language": "en"})
    assert '<html lang="en">' in english.text and "Filters" in english.text and "Comedy" in english.text
    chosen = await client.get("/", params={"tenant": TENANT, "lang": "vi"}, headers={"Accept-Language": "en"})
    assert "Bộ lọc" in chosen.text and "lang=vi" in chosen.headers["set-cookie"]
    client.cookies.clear()
    client.cookies.set("lang", "vi")
    remembered = await client.get("/movie/webpages/1", headers={"Accept-Language": "en"})
    assert '<html lang="vi">' in remembered.text and "Phim Hài" in remembered.text
    client.cookies.clear()
    ignored = await client.get("/", params={"tenant": TENANT, "lang": "fr"}, headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in ignored.text


async def test_the_runtime_options_count_the_movies_at_most_that_long(client):
    await load(client, [movie(i, Runtime=f"{25 * i} phút") for i in range(1, 9)])  # 25, 50, … 200 minutes
    page = (await client.get("/", params={"tenant": TENANT})).text
    options = dict(re.findall(r'<option value="(\d+)"[^>]*>≤ \d+ min \((\d+)\)</option>', page))
    assert list(options) == ["30", "60", "90", "120", "150", "180"]
    for limit, count in options.items():
        listing = await client.get("/movies", params={"tenant": TENANT, "runtime_lte": limit, "count": "exact"})
        assert int(count) == int(listing.headers["X-Total-Count"]), limit
    assert options["90"] == "3"
    chosen = (await client.get("/", params={"tenant": TENANT, "runtime_lte": "100"})).text
    assert '<option value="100" selected>≤ 100 min (4)</option>' in chosen
