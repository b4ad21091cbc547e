"""The hostile CSV corpus, over HTTP: each file gets a 4xx naming the problem, and the tenant's
catalog stays exactly what it was (a BOM and UTF-16 with its BOM are accepted)."""

import gzip
import io
import zipfile

import pytest

from ...factories import HEADER, catalog_csv, movie

TENANT = "hostile"
GOOD = catalog_csv([movie(1), movie(2), movie(3)])
HEADER_LINE = ",".join(HEADER)


def with_row(**cells: str) -> bytes:
    return catalog_csv([movie(10), movie(11, **cells)])


def text_rows(*lines: str) -> bytes:
    return ("\r\n".join([HEADER_LINE, *lines]) + "\r\n").encode("utf-8", "surrogateescape")


def row_line(tmdb_id: int, **cells: str) -> str:
    return catalog_csv([movie(tmdb_id, **cells)]).decode().split("\r\n")[1]


def xlsx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


HOSTILE = {
    # id: (file bytes, query params, status, words the answer must contain)
    "cp1252": (with_row(Movie_Name="Café").replace("Café".encode(), "Café".encode("cp1252")), {}, 422, ["UTF-8"]),
    "invalid-utf8-mid-file": (text_rows(row_line(10), row_line(11)[:5] + "\udcff", row_line(12)), {}, 422, ["line 3"]),
    "empty": (b"", {}, 422, ["empty"]),
    "header-only": (catalog_csv([]), {}, 422, ["empty"]),
    "missing-column": (text_rows().replace(b",TMDB ID", b""), {}, 422, ["TMDB ID"]),
    "duplicate-header": ((HEADER_LINE + ",Year\r\n" + row_line(10) + ",2020\r\n").encode(), {}, 422, ["Year"]),
    "semicolons": (GOOD.replace(b",", b";"), {}, 422, [";"]),
    "unclosed-quote": (text_rows(row_line(10), row_line(11).removesuffix("11") + '"11'), {}, 422, ["never closed"]),
    "stray-quote": (text_rows(row_line(10), row_line(11).replace("Phim Số 11", '"Phim" Số 11', 1)), {}, 422, ["quote"]),
    "too-few-fields": (text_rows(row_line(10), "Phim,https://x.example"), {}, 422, ["field"]),
    "too-many-fields": (text_rows(row_line(10), row_line(11) + ",extra"), {}, 422, ["field"]),
    "200kb-field": (with_row(Overview="x" * 200_000), {}, 422, ["KB"]),
    "nul-byte": (with_row(Overview="a\0b"), {}, 422, ["NUL"]),
    "control-character": (with_row(Overview="a\x07b"), {}, 422, ["control"]),
    "duplicate-tmdb-id": (catalog_csv([movie(10), movie(11), movie(10)]), {}, 422, ["line 2", "line 4"]),
    "year-19x5": (with_row(Year="19x5"), {}, 422, ["Year"]),
    "year-0": (with_row(Year="0"), {}, 422, ["Year"]),
    "year-3000": (with_row(Year="3000"), {}, 422, ["Year"]),
    "rating-negative": (with_row(Rating="-1"), {}, 422, ["Rating"]),
    "rating-11": (with_row(Rating="11"), {}, 422, ["Rating"]),
    "rating-nan": (with_row(Rating="NaN"), {}, 422, ["Rating"]),
    "rating-1e309": (with_row(Rating="1e309"), {}, 422, ["Rating"]),
    "runtime-0": (with_row(Runtime="0"), {}, 422, ["Runtime"]),
    "runtime-100000": (with_row(Runtime="100000"), {}, 422, ["Runtime"]),
    "javascript-url": (with_row(Movie_Link="javascript:alert(1)"), {}, 422, ["Movie Link"]),
    "ftp-url": (with_row(Poster_URL="ftp://example.com/p.jpg"), {}, 422, ["Poster URL"]),
    "gzip-renamed": (gzip.compress(GOOD), {}, 422, []),
    "xlsx-renamed": (xlsx_bytes(), {}, 422, []),
}


@pytest.fixture
async def seeded(client) -> bytes:
    response = await client.post("/reload", params={"tenant": TENANT}, files={"file": ("good.csv", GOOD)})
    assert response.status_code == 200, response.text
    return await export(client)


async def export(client) -> bytes:
    response = await client.get("/movies.csv", params={"tenant": TENANT})
    assert response.status_code == 200
    return response.content


@pytest.mark.parametrize(("data", "params", "status", "words"), HOSTILE.values(), ids=HOSTILE.keys())
async def test_a_hostile_file_is_refused_by_name_and_changes_nothing(client, seeded, data, params, status, words):
    response = await client.post(
        "/reload", params={"tenant": TENANT, **params}, files={"file": ("catalog.csv", data, "text/csv")}
    )
    assert response.status_code == status
    detail = response.json()["detail"]
    for word in words:
        assert word in detail
    assert await export(client) == seeded


@pytest.mark.parametrize(
    "data",
    [b"\xef\xbb\xbf" + GOOD, "\ufeff".encode("utf-16-le") + GOOD.decode().encode("utf-16-le")],
    ids=["utf8-bom", "utf16-bom"],
)
async def test_byte_order_marks_are_accepted(client, seeded, data):
    response = await client.post("/reload", params={"tenant": TENANT}, files={"file": ("c.csv", data, "text/csv")})
    assert response.status_code == 200, response.text
    assert response.json()["unchanged"] == 3
    assert await export(client) == seeded


async def test_a_multipart_body_without_a_file_part_is_refused(client, seeded):
    response = await client.post("/reload", params={"tenant": TENANT}, files={"csv": ("c.csv", GOOD)})
    assert response.status_code == 422
    assert "'file'" in response.json()["detail"]
    assert await export(client) == seeded


async def test_two_file_parts_are_refused(client, seeded):
    files = [("file", ("a.csv", GOOD)), ("file", ("b.csv", GOOD))]
    response = await client.post("/reload", params={"tenant": TENANT}, files=files)
    assert response.status_code == 422
    assert "one file part" in response.json()["detail"]
    assert await export(client) == seeded


async def test_a_body_that_is_not_multipart_is_415(client, seeded):
    response = await client.post(
        "/reload", params={"tenant": TENANT}, content=GOOD, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["detail"]
    assert await export(client) == seeded
