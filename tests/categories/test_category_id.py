"""The optional Category ID column: a movie's explicit category, beside its genres' categories."""

import csv
import io

import pytest

from moviemanager.errors import InvalidCsv
from moviemanager.movies.importing import row_stream
from moviemanager.movies.importing.importer import import_catalog
from moviemanager.uow import UnitOfWork

from ..factories import HEADER, catalog_csv, movie, read_catalog
from .test_category_report import assert_consistent, assert_stored_counts_are_live, flatten, listed, upload

WITH_CATEGORY = [*HEADER, "Category ID"]
COMEDY, MUSIC, ACTION, THRILLER, HORROR = 3, 32, 1, 6, 4  # movie() rows are Comedy and Music by their genres


def rows(**category_ids: str) -> list[dict[str, str]]:
    """Movies 1–5, each with the Category ID given for it as m<id>= (empty otherwise)."""
    return [movie(i, Category_ID=category_ids.get(f"m{i}", "")) for i in range(1, 6)]


async def get(client, tenant: str, tmdb_id: int) -> dict:
    return (await client.get(f"/movies/{tmdb_id}", params={"tenant": tenant})).json()


def names(movie_read: dict) -> list[int]:
    return [category["id"] for category in movie_read["categories"]]


async def test_a_category_id_adds_its_category_and_is_the_movies_category_id(client, connection):
    catalog = rows(m1=str(THRILLER), m2=str(COMEDY))
    catalog[2]["Genre"] = ""  # movie 3: no genre, only its explicit category
    catalog[2]["Category ID"] = str(HORROR)
    report = await upload(client, "explicit", catalog_csv(catalog, WITH_CATEGORY))
    assert report["loaded"] == 5 and report["warnings"] == []

    one = await get(client, "explicit", 1)
    assert one["categories"] == [
        {"id": COMEDY, "name": "Comedy"},
        {"id": THRILLER, "name": "Thriller"},
        {"id": MUSIC, "name": "Music"},
    ]
    assert one["category_id"] == THRILLER
    both = await get(client, "explicit", 2)  # explicitly in a category its genres give too: once
    assert names(both) == [COMEDY, MUSIC] and both["category_id"] == COMEDY
    assert names(await get(client, "explicit", 3)) == [HORROR]
    plain = await get(client, "explicit", 4)
    assert names(plain) == [COMEDY, MUSIC] and plain["category_id"] == COMEDY  # the lowest, as before

    page = (await client.get("/movies", params={"tenant": "explicit"})).json()
    assert [m["category_id"] for m in page] == [THRILLER, COMEDY, HORROR, COMEDY, COMEDY]
    assert await listed(client, "explicit", category=THRILLER) == ["1"]
    assert await listed(client, "explicit", category=ACTION) == ["1"]  # Thriller is under Action
    assert await listed(client, "explicit", category=HORROR) == ["3"]
    assert await listed(client, "explicit", category=COMEDY) == ["1", "2", "4", "5"]

    counts = {node["id"]: node for _, node in flatten((await client.get("/categories?tenant=explicit")).json())}
    assert counts[THRILLER]["movie_count"] == 1 and counts[ACTION]["total_count"] == 1
    assert counts[HORROR]["movie_count"] == 1 and counts[COMEDY]["movie_count"] == 4
    await assert_consistent(client, "explicit")
    await assert_consistent(client, "explicit", year=2024)
    await assert_stored_counts_are_live(connection, "explicit")

    facets = (await client.get("/movies/facets", params={"tenant": "explicit", "category": ACTION})).json()
    assert facets["total"] == 1
    assert [genre["key"] for genre in facets["genres"]] == ["10402", "35"]  # no key for the category
    exported = (await client.get("/movies", params={"tenant": "explicit", "category": ACTION, "format": "csv"})).text
    [record] = list(csv.DictReader(io.StringIO(exported)))
    assert record["TMDB ID"] == "1" and record["Category ID"] == str(THRILLER)


async def test_the_header_matches_ignoring_case_and_an_empty_cell_is_no_category(client):
    header = [*HEADER, " category id "]
    data = catalog_csv([{**movie(1), " category id ": ""}, {**movie(2), " category id ": "6"}], header)
    report = await upload(client, "explicit", data)
    assert report["warnings"] == []
    assert (await get(client, "explicit", 1))["category_id"] == COMEDY
    assert (await get(client, "explicit", 2))["category_id"] == THRILLER
    assert (await get(client, "explicit", 2))["extra"] == {}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("999", "Category ID 999 is no category (see GET /categories)"),
        ("0", "Category ID 0 is no category (see GET /categories)"),
        ("9" * 40, f"Category ID {'9' * 40} is no category (see GET /categories)"),
        ("x3", "Category ID must be a category's id, a whole number like 3"),
        ("-1", "Category ID must be a category's id, a whole number like 3"),
        ("3.0", "Category ID must be a category's id, a whole number like 3"),
    ],
)
async def test_an_unknown_or_malformed_category_id_is_a_row_error(client, value, reason):
    data = catalog_csv(rows(m3=value), WITH_CATEGORY)
    problem = {"line": 4, "column": "Category ID", "value": value, "reason": reason}

    failed = await client.post("/reload", params={"tenant": "explicit"}, files={"file": ("c.csv", data)})
    assert failed.status_code == 422, failed.text
    assert failed.json()["errors"] == [problem]
    assert "line 4, column 'Category ID'" in failed.json()["detail"]
    assert (await client.get("/movies", params={"tenant": "explicit"})).status_code == 404  # nothing written

    skipped = await upload(client, "explicit", data, on_error="skip")
    assert skipped["loaded"] == 4 and skipped["skipped"] == 1 and skipped["errors"] == [problem]
    assert await listed(client, "explicit") == ["1", "2", "4", "5"]


async def test_export_then_import_round_trips_exactly(client):
    catalog = rows(m1=str(THRILLER), m4=str(HORROR))
    await upload(client, "explicit", catalog_csv(catalog, WITH_CATEGORY))
    exported = (await client.get("/movies.csv", params={"tenant": "explicit"})).content
    assert [r["Category ID"] for r in csv.DictReader(io.StringIO(exported.decode()))] == ["6", "", "", "4", ""]

    again = await upload(client, "explicit", exported)
    assert again["unchanged"] == 5 and again["updated"] == 0
    assert (await client.get("/movies.csv", params={"tenant": "explicit"})).content == exported

    catalog[0]["Category ID"] = str(HORROR)  # a changed Category ID changes the movie
    catalog[1]["Category ID"] = str(COMEDY)
    changed = await upload(client, "explicit", catalog_csv(catalog, WITH_CATEGORY))
    assert changed["updated"] == 2 and changed["unchanged"] == 3


async def test_a_merge_counts_and_lists_explicit_categories(client, connection):
    await upload(client, "explicit", catalog_csv(rows(), WITH_CATEGORY))
    await upload(client, "explicit", catalog_csv([movie(9, Category_ID=str(THRILLER))], WITH_CATEGORY), mode="merge")
    assert await listed(client, "explicit", category=ACTION) == ["9"]
    await assert_consistent(client, "explicit")
    await assert_stored_counts_are_live(connection, "explicit")


async def test_a_deleted_category_loses_its_movies_and_the_export_still_imports(client, connection):
    created = (await client.post("/categories", json={"name": "Neo-Noir", "parent_id": THRILLER})).json()
    await upload(client, "explicit", catalog_csv(rows(m1=str(created["id"])), WITH_CATEGORY))
    assert (await get(client, "explicit", 1))["category_id"] == created["id"]
    assert await listed(client, "explicit", category=ACTION) == ["1"]

    assert (await client.delete(f"/categories/{created['id']}")).status_code == 204
    one = await get(client, "explicit", 1)
    assert names(one) == [COMEDY, MUSIC] and one["category_id"] == COMEDY
    assert await listed(client, "explicit", category=ACTION) == []
    assert await listed(client, "explicit", category=created["id"]) == []
    await assert_consistent(client, "explicit")
    await assert_stored_counts_are_live(connection, "explicit")

    exported = (await client.get("/movies.csv", params={"tenant": "explicit"})).content
    assert [r["Category ID"] for r in csv.DictReader(io.StringIO(exported.decode()))] == [""] * 5
    assert (await upload(client, "explicit", exported))["loaded"] == 5


def test_the_parser_checks_ids_against_the_categories_it_is_given():
    data = catalog_csv(rows(m1="6", m2="40"), WITH_CATEGORY)
    parsed = read_catalog(io.BytesIO(data), category_ids=frozenset({6, 40}))
    assert [row.data.get("category_id") for row in parsed] == [6, 40, None, None, None]
    assert parsed[0].data["genre_keys"] == [35, 10402, {"category": 6}]
    assert "category_id" not in parsed[2].data  # empty: absent, as in a file without the column
    with pytest.raises(InvalidCsv) as raised:
        read_catalog(io.BytesIO(data), category_ids=frozenset({6}))
    assert [(p.line, p.column, p.value) for p in raised.value.problems] == [(3, "Category ID", "40")]


async def test_parser_processes_get_the_category_ids(sessions, tmp_path, monkeypatch):
    monkeypatch.setattr(row_stream, "PROCESS_THRESHOLD_BYTES", 1)
    path = tmp_path / "catalog.csv"
    path.write_bytes(catalog_csv([movie(i, Category_ID="6" if i % 2 else "") for i in range(1, 2001)], WITH_CATEGORY))
    with path.open("rb") as source:
        report = await import_catalog(UnitOfWork(sessions), "processes", source, source_name="test")
    assert report.loaded == 2000 and report.errors == []
    uow = UnitOfWork(sessions)
    async with uow.for_tenant("processes"):
        counts = await uow.categories.stored_counts("processes")
    assert counts[THRILLER].movie_count == 1000 and counts[ACTION].total_count == 1000
