"""POST /reload's import options: merge, dry run, skip mode, the shrink guard, encodings, the report."""

import codecs
import hashlib

import pytest

from ...factories import HEADER, catalog_csv, movie


async def upload(client, tenant: str, data: bytes, **params):
    return await client.post(
        "/reload", params={"tenant": tenant, **params}, files={"file": ("catalog.csv", data, "text/csv")}
    )


async def catalog(client, tenant: str) -> dict[str, dict]:
    response = await client.get("/movies", params={"tenant": tenant, "limit": 1000})
    return {m["tmdb_id"]: m for m in response.json()}


def fingerprint(movies: dict[str, dict]) -> str:
    return hashlib.sha256(repr(sorted(movies.items())).encode()).hexdigest()


def counts(body: dict) -> tuple[int, ...]:
    return tuple(body[key] for key in ("loaded", "inserted", "updated", "deleted", "unchanged", "skipped", "total"))


async def test_replace_reports_what_changed(client):
    await upload(client, "rep", catalog_csv([movie(1), movie(2), movie(3)]))
    response = await upload(client, "rep", catalog_csv([movie(2), movie(3, Year="1999"), movie(4)]))
    assert response.status_code == 200
    body = response.json()
    # loaded, inserted, updated, deleted, unchanged, skipped, total
    assert counts(body) == (3, 1, 1, 1, 1, 0, 3)
    assert body["mode"] == "replace" and body["dry_run"] is False
    assert body["rows_per_second"] >= 0 and body["elapsed_ms"] > 0
    assert set(body["phases_ms"]) >= {"parse_and_copy", "primary_key", "compare"}
    assert sorted(await catalog(client, "rep")) == ["2", "3", "4"]


async def test_merge_inserts_and_updates_and_keeps_the_rest(client):
    await upload(client, "mrg", catalog_csv([movie(1), movie(2), movie(3)]))
    renamed = movie(3, Year="1999", Movie_Name="Đêm Trắng")
    response = await upload(client, "mrg", catalog_csv([renamed, movie(2), movie(9)]), mode="merge")
    assert response.status_code == 200
    assert counts(response.json()) == (3, 1, 1, 0, 1, 0, 4)
    movies = await catalog(client, "mrg")
    assert sorted(movies) == ["1", "2", "3", "9"]
    assert movies["3"]["year"] == 1999
    # The rewritten movie's search texts were rewritten with it.
    found = await client.get("/movies", params={"tenant": "mrg", "q": "dem trang"})
    assert [found_movie["tmdb_id"] for found_movie in found.json()] == ["3"]


async def test_merge_into_a_new_tenant_creates_it(client):
    response = await upload(client, "mrg-new", catalog_csv([movie(5)]), mode="merge")
    assert counts(response.json()) == (1, 1, 0, 0, 0, 0, 1)
    assert sorted(await catalog(client, "mrg-new")) == ["5"]


@pytest.mark.parametrize("mode", ["replace", "merge"])
async def test_a_dry_run_reports_and_writes_nothing(client, mode):
    await upload(client, "dry", catalog_csv([movie(1), movie(2)]))
    before = await catalog(client, "dry")
    response = await upload(client, "dry", catalog_csv([movie(2, Year="2001"), movie(7)]), mode=mode, dry_run="true")
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True
    expected = (2, 1, 1, 1, 0, 0, 2) if mode == "replace" else (2, 1, 1, 0, 0, 0, 3)
    assert counts(body) == expected
    assert await catalog(client, "dry") == before


async def test_a_dry_run_into_a_new_tenant_registers_nothing(client):
    response = await upload(client, "dry-new", catalog_csv([movie(1)]), dry_run="true")
    assert response.status_code == 200
    assert "dry-new" not in (await client.get("/tenants")).json()


async def test_skip_mode_loads_the_valid_rows_and_reports_the_rest(client):
    rows = [movie(1), movie(2, Year="19x5"), movie(3, Rating="eleven", Runtime="long"), movie(4), movie(1)]
    response = await upload(client, "skip", catalog_csv(rows), on_error="skip")
    assert response.status_code == 200
    body = response.json()
    assert counts(body) == (2, 2, 0, 0, 0, 3, 2)
    assert body["error_count"] == 4
    assert [(e["line"], e["column"]) for e in body["errors"]] == [
        (3, "Year"),
        (4, "Runtime"),
        (4, "Rating"),
        (6, "TMDB ID"),
    ]
    duplicate = body["errors"][-1]
    assert duplicate["reason"] == "TMDB ID 1 already appears on line 2"
    assert sorted(await catalog(client, "skip")) == ["1", "4"]


async def test_repeated_ids_fail_the_file_naming_both_lines(client):
    response = await upload(client, "dups", catalog_csv([movie(5), movie(6), movie(5), movie(5)]))
    assert response.status_code == 422
    body = response.json()
    assert body["error_count"] == 2
    assert [(e["line"], e["value"], e["reason"]) for e in body["errors"]] == [
        (4, "5", "TMDB ID 5 already appears on line 2"),
        (5, "5", "TMDB ID 5 already appears on line 2"),
    ]
    assert "dups" not in (await client.get("/tenants")).json()


async def test_skip_mode_still_fails_a_damaged_file(client):
    data = catalog_csv([movie(1), movie(2)]) + b'"never closed,\r\n'
    response = await upload(client, "damaged", data, on_error="skip")
    assert response.status_code == 422
    assert "never closed" in response.json()["detail"]


async def test_shrinking_a_catalog_by_more_than_90_percent_needs_allow_shrink(client):
    await upload(client, "shrink", catalog_csv([movie(i) for i in range(1, 21)]))
    before = await catalog(client, "shrink")

    refused = await upload(client, "shrink", catalog_csv([movie(1)]))
    assert refused.status_code == 422
    assert "from 20" in refused.json()["detail"] and "allow_shrink=true" in refused.json()["detail"]
    assert await catalog(client, "shrink") == before

    kept_enough = await upload(client, "shrink", catalog_csv([movie(i) for i in range(1, 3)]))
    assert kept_enough.status_code == 200  # 2 of 20: exactly 10% is allowed

    allowed = await upload(client, "shrink", catalog_csv([movie(1)]), allow_shrink="true")
    assert allowed.status_code == 200 and allowed.json()["deleted"] == 1


async def test_emptying_a_catalog_needs_allow_shrink(client):
    await upload(client, "empty", catalog_csv([movie(1), movie(2)]))
    header_only = catalog_csv([], HEADER)
    refused = await upload(client, "empty", header_only)
    assert refused.status_code == 422 and "empty" in refused.json()["detail"]
    allowed = await upload(client, "empty", header_only, allow_shrink="true")
    assert allowed.status_code == 200 and allowed.json()["total"] == 0
    assert await catalog(client, "empty") == {}


async def test_skipping_every_row_does_not_empty_the_catalog(client):
    await upload(client, "allbad", catalog_csv([movie(1), movie(2)]))
    response = await upload(client, "allbad", catalog_csv([movie(3, Year="x")]), on_error="skip")
    assert response.status_code == 422
    assert sorted(await catalog(client, "allbad")) == ["1", "2"]


async def test_utf16_with_a_bom_is_read(client):
    data = codecs.BOM_UTF16_LE + catalog_csv([movie(1, Movie_Name="Hài Hước")]).decode().encode("utf-16-le")
    response = await upload(client, "utf16", data)
    assert response.status_code == 200, response.text
    assert (await catalog(client, "utf16"))["1"]["movie_name"] == "Hài Hước"


async def test_a_named_encoding_is_used(client):
    row = movie(1, Movie_Name="Café Crème", Genre="Comedy", Runtime="95 min", Overview="Déjà vu")
    data = catalog_csv([row]).decode().encode("cp1252")
    response = await upload(client, "cp1252", data, encoding="cp1252")
    assert response.status_code == 200, response.text
    assert (await catalog(client, "cp1252"))["1"]["movie_name"] == "Café Crème"


async def test_bytes_not_in_the_encoding_name_the_line(client):
    data = catalog_csv([movie(1), movie(2), movie(3, Movie_Name="Café")]).replace("é".encode(), b"\xe9")
    response = await upload(client, "badbytes", data)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["line"] == 4
    assert "not valid UTF-8" in error["reason"] and "encoding=" in error["reason"]


@pytest.mark.parametrize("encoding", ["no-such-codec", "base64", "x" * 41])
async def test_an_unknown_encoding_is_422(client, encoding):
    response = await upload(client, "enc", catalog_csv([movie(1)]), encoding=encoding)
    assert response.status_code == 422
    assert "detail" in response.json()


async def test_coercions_are_warnings(client):
    rows = [movie(1, Rating="7,5") | {"Director": "Ai Đó"}]
    response = await upload(client, "warn", catalog_csv(rows, HEADER + ["Director"]))
    assert response.status_code == 200
    body = response.json()
    assert body["warning_count"] == 2
    assert [(w["line"], w["column"]) for w in body["warnings"]] == [(1, "Director"), (2, "Rating")]
    assert (await catalog(client, "warn"))["1"]["rating"] == 7.5


async def test_a_failure_deep_in_a_big_file_leaves_the_previous_catalog(client):
    await upload(client, "deep", catalog_csv([movie(i) for i in range(1, 1001)]))
    before = fingerprint(await catalog(client, "deep"))
    rows = [movie(i, Year="2000") for i in range(1, 50_001)]
    rows[45_000] = movie(45_001, Year="not a year")
    response = await upload(client, "deep", catalog_csv(rows))
    assert response.status_code == 422
    assert response.json()["errors"][0]["line"] == 45_002
    assert fingerprint(await catalog(client, "deep")) == before
