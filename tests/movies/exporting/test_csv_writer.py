"""The CSV writer on its own: no database."""

import io
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from moviemanager.movies.columns import COLUMNS
from moviemanager.movies.exporting.csv_writer import catalog_chunks
from moviemanager.movies.formulas import FORMULA_TRIGGERS, escape_formula, unescape_formula

from ...factories import HEADER, catalog_csv, movie, read_catalog

SEED_HEADER = ",".join(COLUMNS)


def stored(tmdb_id: int, **cells: str) -> tuple[int, dict[str, Any]]:
    """A movie as the importer stores it, from cells as in factories.movie."""
    [row] = read_catalog(io.BytesIO(catalog_csv([movie(tmdb_id, **cells)])))
    return row.tmdb_id, row.data


async def export(movies: list[tuple[int, dict[str, Any]]], extra_columns=(), **kwargs) -> list[bytes]:
    async def rows() -> AsyncIterator[tuple[int, dict[str, Any]]]:
        for item in movies:
            yield item

    return [chunk async for chunk in catalog_chunks(extra_columns, rows(), **kwargs)]


async def export_text(movies, extra_columns=()) -> str:
    return b"".join(await export(movies, extra_columns)).decode("utf-8")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-", "'-"),
        ("@@", "'@@"),
        ("\t", "'\t"),
        ("'=x", "''=x"),
        ("''-x", "'''-x"),
        ("", ""),
        ("'", "'"),
        ("'abc", "'abc"),
        ("a=b", "a=b"),
        ("Phim Hài", "Phim Hài"),
    ],
)
def test_formula_escaping(value, cell):
    assert escape_formula(value) == cell
    assert unescape_formula(cell) == value


def test_escaping_is_a_bijection():
    values = ["".join(chars) for n in range(5) for chars in itertools.product("'=+-@\ta", repeat=n)]
    cells = [escape_formula(value) for value in values]
    assert len(set(cells)) == len(values)
    assert all(unescape_formula(cell) == value for value, cell in zip(values, cells, strict=True))
    assert not any(cell[:1] in FORMULA_TRIGGERS for cell in cells)  # no cell a spreadsheet would run


def test_a_long_run_of_quotes_does_not_recurse():
    value = "'" * 10_000 + "="
    assert unescape_formula(escape_formula(value)) == value


async def test_header_and_a_full_record():
    text = await export_text([stored(550, Rating="7", Fshare_Link="", Overview="Có, dấu phẩy")])
    assert text == (
        f"{SEED_HEADER}\r\n"
        'Phim Số 550,https://phimmoi.example/phim/550,,Movie 550,"Phim Hài, Phim Nhạc",2024,95 phút,7.0,'
        '"Có, dấu phẩy",,,550,\r\n'
    )


async def test_none_is_an_empty_cell():
    data = {"movie_name": "Trống", "year": None, "rating": None, "extra": {"Director": None}}
    text = await export_text([(1, data)], ["Director"])
    assert text.splitlines()[1] == "Trống,,,,,,,,,,,1,,"


async def test_numbers_are_written_to_parse_back_the_same():
    movies = [(1, {"movie_name": "a", "year": 1999, "rating": rating}) for rating in (7.0, 6.35, 0.1, 10.0)]
    records = (await export_text(movies)).splitlines()[1:]
    assert [record.split(",")[7] for record in records] == ["7.0", "6.35", "0.1", "10.0"]
    assert {record.split(",")[5] for record in records} == {"1999"}


async def test_text_cells_are_escaped_numbers_are_not():
    data = {"movie_name": '=HYPERLINK("x")', "overview": "-- tóm tắt", "genre": "@Phim", "rating": 0.0}
    text = await export_text([(1, data)])
    assert text.splitlines()[1] == '"\'=HYPERLINK(""x"")",,,,\'@Phim,,,0.0,\'-- tóm tắt,,,1,'


async def test_extra_columns_follow_the_seed_ones_in_the_given_order():
    movies = [
        (1, {"movie_name": "a", "extra": {"Director": "Trần Anh Hùng", "=Cast": "+x"}}),
        (2, {"movie_name": "b", "extra": {"Director": "Lý Hải"}}),
        (3, {"movie_name": "c"}),
    ]
    lines = (await export_text(movies, ["=Cast", "Director"])).splitlines()
    assert lines[0] == f"{SEED_HEADER},'=Cast,Director"
    assert [line.split(",", 11)[11] for line in lines[1:]] == ["1,,'+x,Trần Anh Hùng", "2,,,Lý Hải", "3,,,"]


async def test_multiline_overviews_are_quoted_and_kept():
    overview = 'Dòng một\nDòng "hai"\r\nDòng ba'
    text = await export_text([(1, {"movie_name": "a", "overview": overview})])
    assert '"Dòng một\nDòng ""hai""\r\nDòng ba"' in text
    [row] = read_catalog(io.BytesIO(text.encode("utf-8")))
    assert row.data["overview"] == overview


async def test_no_movies_is_the_header_alone():
    assert await export([], ["Director"]) == [f"{SEED_HEADER},Director\r\n".encode()]


async def test_rows_are_batched_into_chunks():
    movies = [stored(tmdb_id) for tmdb_id in range(1, 201)]
    one = await export(movies)
    many = await export(movies, chunk_chars=4096)
    assert len(one) == 1
    assert 5 < len(many) < 20
    assert b"".join(many) == one[0]
    assert all(chunk.endswith(b"\r\n") for chunk in many)


async def test_the_importer_reads_back_what_was_written():
    rows = [
        movie(1),
        movie(2, Rating="", Year="", Runtime="64 phút/tập", Genre=""),
        movie(3, Overview='Hai\ndòng, với "ngoặc"', Rating="9.25", Movie_Name="'Quoted' title"),
    ]
    rows = [row | {"Director": f"Đạo diễn {i}" if i else ""} for i, row in enumerate(rows)]
    original = read_catalog(io.BytesIO(catalog_csv(rows, HEADER + ["Director"])))
    text = await export_text([(row.tmdb_id, row.data) for row in original], ["Director"])
    again = read_catalog(io.BytesIO(text.encode("utf-8")))
    assert [(row.tmdb_id, row.data) for row in again] == [(row.tmdb_id, row.data) for row in original]
