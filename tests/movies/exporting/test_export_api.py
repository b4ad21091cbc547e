"""GET /movies.csv and GET /movies?format=csv: the catalog as a CSV that POST /reload reads back."""

import pytest

from moviemanager.movies.columns import COLUMNS
from moviemanager.movies.exporting.service import export_catalog
from moviemanager.movies.formulas import escape_formula
from moviemanager.movies.reading.filters import MovieFilters

from ...factories import HEADER, catalog_csv, movie

SEED_HEADER = ",".join(COLUMNS)


async def upload(client, tenant: str, data: bytes):
    response = await client.post("/reload", params={"tenant": tenant}, files={"file": ("c.csv", data, "text/csv")})
    assert response.status_code == 200, response.text
    return response


async def export(client, tenant: str) -> bytes:
    response = await client.get("/movies.csv", headers={"X-Tenant": tenant})
    assert response.status_code == 200, response.text
    return response.content


async def listed(client, tenant: str) -> list[dict]:
    return (await client.get("/movies", params={"tenant": tenant, "limit": 1000})).json()


async def round_trip(client, tenant: str, data: bytes) -> None:
    """Upload, export, upload the export, export again: nothing may change after the first export."""
    await upload(client, tenant, data)
    movies, first = await listed(client, tenant), await export(client, tenant)
    await upload(client, tenant, first)
    assert await export(client, tenant) == first
    assert await listed(client, tenant) == movies


@pytest.fixture
async def catalog(client):
    rows = [
        movie(10, Genre="Phim Hài, Phim Nhạc") | {"Director": "Trần Anh Hùng", "Année": "1993"},
        movie(20, Genre="Phim Hài", Rating="") | {"Director": "", "Année": ""},
        movie(30, Genre="Phim Chính Kịch") | {"Director": "Lý Hải", "Année": "2019"},
    ]
    await upload(client, "alpha", catalog_csv(rows, HEADER + ["Director", "Année"]))
    return rows


@pytest.mark.parametrize("path", ["/movies.csv", "/movies?format=csv"])
async def test_unknown_tenant_is_json_404(client, path):
    response = await client.get(path, headers={"X-Tenant": "nobody"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Tenant 'nobody' not found"}


@pytest.mark.parametrize("path", ["/movies.csv", "/movies?format=csv"])
async def test_no_tenant_is_json_400(client, path):
    response = await client.get(path)
    assert response.status_code == 400
    assert "X-Tenant" in response.json()["detail"]


async def test_an_unknown_format_is_422(client, catalog):
    response = await client.get("/movies", params={"tenant": "alpha", "format": "xml"})
    assert response.status_code == 422


async def test_csv_is_an_attachment_named_after_the_tenant(client, catalog):
    response = await client.get("/movies.csv", params={"tenant": "alpha"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="alpha.csv"'


async def test_header_row_then_movies_by_tmdb_id_with_extra_columns_sorted(client, catalog):
    lines = (await export(client, "alpha")).decode("utf-8").split("\r\n")
    assert lines[0] == f"{SEED_HEADER},Année,Director"
    assert [line.split(",")[-4:] for line in lines[1:-1]] == [
        ["10", "", "1993", "Trần Anh Hùng"],
        ["20", "", "", ""],
        ["30", "", "2019", "Lý Hải"],
    ]
    assert lines[1].startswith('Phim Số 10,https://phimmoi.example/phim/10,,Movie 10,"Phim Hài, Phim Nhạc",2024,')
    assert lines[-1] == ""  # the last record ends with CRLF too


async def test_cells_a_spreadsheet_would_run_are_escaped(client):
    rows = [movie(1, Movie_Name='=HYPERLINK("http://evil")', Overview="-- tóm tắt") | {"Note": "@SUM(A1)"}]
    await upload(client, "escaped", catalog_csv(rows, HEADER + ["Note"]))
    record = (await export(client, "escaped")).decode("utf-8").split("\r\n")[1]
    assert record.startswith('"\'=HYPERLINK(""http://evil"")",')
    assert ",'-- tóm tắt," in record
    assert record.endswith(",'@SUM(A1)")


async def test_format_csv_is_the_same_file_whatever_the_paging(client, catalog):
    whole = await export(client, "alpha")
    response = await client.get("/movies", params={"tenant": "alpha", "format": "csv", "limit": 1, "offset": 2})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="alpha.csv"'
    assert "link" not in response.headers and "x-total-count" not in response.headers
    assert response.content == whole


async def test_format_csv_applies_the_filters(client, catalog):
    response = await client.get("/movies", params={"tenant": "alpha", "format": "csv", "genre": "phim hai"})
    lines = response.text.split("\r\n")
    assert [line.split(",")[-4] for line in lines[1:-1]] == ["10", "20"]


async def test_a_large_catalog_comes_in_several_chunks(client, uow):
    overview = "Một bộ phim dài, " * 20
    await upload(client, "big", catalog_csv([movie(i, Overview=overview) for i in range(1, 3001)]))
    chunks = [chunk async for chunk in export_catalog(uow, "big", MovieFilters())]
    assert len(chunks) > 10
    body = b"".join(chunks)
    assert body == await export(client, "big")
    lines = body.split(b"\r\n")
    assert len(lines) == 3002
    assert [int(line.rsplit(b",", 2)[1]) for line in lines[1:-1]] == list(range(1, 3001))


async def test_round_trip_changes_nothing(client):
    rows = [
        movie(1) | {"Director": "Trần Anh Hùng"},
        movie(2, Rating="7", Year="", Runtime="64 phút/tập", Genre="") | {"Director": ""},
        movie(3, Rating="8.50", Overview='Dòng một\nDòng "hai", có dấu phẩy') | {"Director": "Lý Hải"},
        movie(4, Movie_Name="'Quoted' title", Original_Title="It's", Fshare_Link="https://fshare.vn/f/x")
        | {"Director": "Victor Vũ"},
    ]
    await round_trip(client, "trip", catalog_csv(rows, HEADER + ["Director"]))


async def test_round_trip_of_the_packaged_catalog(client):
    await client.post("/reload", params={"tenant": "tv_serials"})
    first = await export(client, "tv_serials")
    await round_trip(client, "tv_serials", first)


async def test_round_trip_restores_formula_like_values(client):
    names = ["=1+2", "-", "@@", "+84 90", "'=x", "''-y", "'", "'plain"]
    rows = [
        movie(i, Movie_Name=escape_formula(name), Overview=escape_formula(name)) | {"Note": escape_formula(name)}
        for i, name in enumerate(names, start=1)
    ]
    await round_trip(client, "formulas", catalog_csv(rows, HEADER + ["Note"]))
    movies = await listed(client, "formulas")
    assert [(m["movie_name"], m["overview"], m["extra"]["Note"]) for m in movies] == [(n, n, n) for n in names]


async def test_round_trip_restores_formula_like_column_names(client):
    await round_trip(client, "formulacols", catalog_csv([movie(1) | {"'=Cast": "x"}], HEADER + ["'=Cast"]))
    assert (await listed(client, "formulacols"))[0]["extra"] == {"=Cast": "x"}


async def test_openapi_documents_the_csv_responses(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "text/csv" in paths["/movies.csv"]["get"]["responses"]["200"]["content"]
    listing = paths["/movies"]["get"]
    assert set(listing["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert any(p["name"] == "format" for p in listing["parameters"])
