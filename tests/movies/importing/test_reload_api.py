"""POST /reload: replace a tenant's catalog from an upload or its default CSV, all or nothing."""

import pytest

from moviemanager.config import PACKAGED_CSV_DIR
from moviemanager.movies.importing.service import load_default_catalogs

from ...factories import HEADER, catalog_csv, movie


async def upload(client, tenant: str, data: bytes, **kwargs):
    return await client.post(
        "/reload", params={"tenant": tenant}, files={"file": ("catalog.csv", data, "text/csv")}, **kwargs
    )


async def tmdb_ids(client, tenant: str) -> list[str]:
    response = await client.get("/movies", params={"tenant": tenant, "limit": 1000})
    return [m["tmdb_id"] for m in response.json()]


async def test_upload_registers_a_new_tenant_and_replaces_its_movies(client):
    first = await upload(client, "fresh", catalog_csv([movie(1), movie(2), movie(3)]))
    assert first.status_code == 200
    assert first.json()["tenant"] == "fresh"
    assert first.json()["loaded"] == 3
    assert first.json()["source"] == "upload"
    assert "fresh" in (await client.get("/tenants")).json()

    second = await upload(client, "fresh", catalog_csv([movie(3, Movie_Name="Đổi Tên"), movie(4)]))
    assert second.json()["loaded"] == 2
    assert await tmdb_ids(client, "fresh") == ["3", "4"]
    assert (await client.get("/movies/3?tenant=fresh")).json()["movie_name"] == "Đổi Tên"


async def test_tenant_comes_from_header_too(client):
    response = await client.post(
        "/reload", headers={"X-Tenant": "viaheader"}, files={"file": ("c.csv", catalog_csv([movie(1)]))}
    )
    assert response.status_code == 200 and response.json()["tenant"] == "viaheader"


async def test_extra_columns_come_back_under_extra(client):
    rows = [movie(1) | {"Director": "Trần Anh Hùng"}]
    await upload(client, "extra", catalog_csv(rows, HEADER + ["Director"]))
    response = await client.get("/movies/1", params={"tenant": "extra"})
    assert response.json()["extra"] == {"Director": "Trần Anh Hùng"}


@pytest.mark.parametrize("tenant", ["movies", "trending", "tv_serials"])
async def test_without_a_file_the_default_csv_is_loaded(client, tenant):
    response = await client.post("/reload", params={"tenant": tenant})
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "default"
    expected = (PACKAGED_CSV_DIR / f"{tenant}.csv").read_bytes().count(b"phimmoi.example/phim/")
    assert body["loaded"] == expected
    assert len(await tmdb_ids(client, tenant)) == expected


async def test_without_a_file_a_tenant_without_default_csv_is_404(client):
    response = await client.post("/reload", params={"tenant": "nodefault"})
    assert response.status_code == 404
    assert "no default CSV" in response.json()["detail"]
    assert "nodefault" not in (await client.get("/tenants")).json()


@pytest.mark.parametrize("tenant", ["../movies", "movies/../../etc", "%2e%2e", "UPPER"])
async def test_tenant_name_is_validated_before_any_path_is_built(client, tenant):
    response = await client.post("/reload", params={"tenant": tenant})
    assert response.status_code == 422


async def test_an_invalid_row_changes_nothing(client):
    await upload(client, "keep", catalog_csv([movie(1), movie(2)]))
    bad = catalog_csv([movie(7), movie(8, Year="19x5"), movie(9, Rating="NaN")])
    response = await upload(client, "keep", bad)
    assert response.status_code == 422
    body = response.json()
    assert body["error_count"] == 2
    assert body["errors"] == [
        {"line": 3, "column": "Year", "value": "19x5", "reason": "Year must be a whole number, like 2025"},
        {"line": 4, "column": "Rating", "value": "NaN", "reason": "Rating must be a number from 0 to 10"},
    ]
    assert body["detail"].startswith("Invalid CSV: line 3, column 'Year'")
    assert "Nothing was changed" in body["detail"]
    assert await tmdb_ids(client, "keep") == ["1", "2"]


async def test_an_invalid_upload_does_not_register_a_new_tenant(client):
    response = await upload(client, "ghost", catalog_csv([movie(1, TMDB_ID="")]))
    assert response.status_code == 422
    assert "ghost" not in (await client.get("/tenants")).json()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (",".join(HEADER).encode() + b"\r\n", "no movie rows"),
        ("Tên,Năm\r\nx,1\r\n".encode("cp1252", errors="replace"), "not valid UTF-8"),
        ("Movie Name,TMDB ID\r\nCafé,1\r\n".encode("cp1252"), "not valid UTF-8"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb4\xe4", "not valid UTF-8"),
    ],
)
async def test_unusable_files_are_422_and_change_nothing(client, data, fragment):
    await upload(client, "keep", catalog_csv([movie(1)]))
    response = await upload(client, "keep", data)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]
    assert await tmdb_ids(client, "keep") == ["1"]


async def test_a_utf8_bom_is_accepted(client):
    response = await upload(client, "bom", b"\xef\xbb\xbf" + catalog_csv([movie(1)]))
    assert response.status_code == 200


async def test_a_body_that_is_not_multipart_is_415(client):
    response = await client.post(
        "/reload", params={"tenant": "movies"}, content=b'{"file": "x"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["detail"]


async def test_two_file_parts_are_refused(client):
    data = catalog_csv([movie(1)])
    response = await client.post(
        "/reload", params={"tenant": "two"}, files=[("file", ("a.csv", data)), ("file", ("b.csv", data))]
    )
    assert response.status_code == 422
    assert "one file part" in response.json()["detail"]


async def test_a_file_field_that_is_not_a_file_is_422(client):
    response = await client.post("/reload", params={"tenant": "two"}, data={"file": "Movie Name,TMDB ID"})
    assert response.status_code == 422


async def test_first_start_loads_every_default_csv_and_skips_badly_named_ones(uow, tmp_path):
    (tmp_path / "films.csv").write_bytes(catalog_csv([movie(1), movie(2)]))
    (tmp_path / "Not A Tenant.csv").write_bytes(catalog_csv([movie(3)]))
    loaded = await load_default_catalogs(lambda: uow, tmp_path)
    assert loaded == ["films"]
    # a second start finds tenants and loads nothing
    assert await load_default_catalogs(lambda: uow, tmp_path) == []
