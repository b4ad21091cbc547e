"""The CSV reader on its own: no database."""

import io

import pytest

from moviemanager.config import PACKAGED_CSV_DIR
from moviemanager.errors import InvalidCsv

from ...factories import HEADER, catalog_csv, movie, read_catalog


def read(data: bytes):
    return read_catalog(io.BytesIO(data))


def problems(data: bytes) -> list[tuple[int, str | None, str | None, str]]:
    with pytest.raises(InvalidCsv) as caught:
        read(data)
    return [(p.line, p.column, p.value, p.reason) for p in caught.value.problems]


def test_reads_every_seed_field():
    [row] = read(
        catalog_csv(
            [
                movie(
                    550,
                    Movie_Name="Hài Hước Mỗi Ngày",
                    Genre="Phim Hài, Phim Nhạc",
                    Year="2025",
                    Runtime="64 phút/tập",
                    Rating="10.0",
                    Overview='Anh "Cáo Già", với\nhai dòng.',
                )
            ]
        )
    )
    assert row.tmdb_id == 550
    assert row.data["movie_name"] == "Hài Hước Mỗi Ngày"
    assert row.data["genre"] == "Phim Hài, Phim Nhạc"
    assert row.data["genres"] == ["Phim Hài", "Phim Nhạc"]
    assert row.data["genre_keys"] == [35, 10402]  # canonical genre ids
    assert row.data["year"] == 2025
    assert row.data["runtime"] == "64 phút/tập"
    assert row.data["runtime_minutes"] == 64
    assert row.data["runtime_per_episode"] is True
    assert row.data["rating"] == 10.0
    assert row.data["overview"] == 'Anh "Cáo Già", với\nhai dòng.'
    assert row.data["extra"] == {}


def test_empty_cells_are_null_never_zero():
    [row] = read(catalog_csv([movie(1, Year="", Rating="", Runtime="", Genre="", Fshare_Link="")]))
    assert row.data["year"] is None
    assert row.data["rating"] is None
    assert row.data["runtime"] is None and row.data["runtime_minutes"] is None
    assert row.data["genre"] is None and row.data["genres"] == []
    assert row.data["fshare_link"] is None


def test_bom_crlf_and_lf_are_all_accepted():
    data = catalog_csv([movie(1), movie(2)], newline="\n")
    assert len(read(b"\xef\xbb\xbf" + data)) == 2
    assert len(read(catalog_csv([movie(1), movie(2)], newline="\r\n"))) == 2


def test_extra_columns_are_kept_under_extra():
    rows = [movie(1) | {"Director": "Trần Anh Hùng"}]
    [row] = read(catalog_csv(rows, HEADER + ["Director"]))
    assert row.data["extra"] == {"Director": "Trần Anh Hùng"}


def test_header_names_match_ignoring_case_and_spaces():
    data = catalog_csv([movie(1)]).replace(b"TMDB ID", b" tmdb id ", 1)
    assert read(data)[0].tmdb_id == 1


def test_blank_lines_are_skipped():
    assert len(read(catalog_csv([movie(1)]) + b"\r\n\r\n")) == 1


def test_line_numbers_count_physical_lines_across_multiline_fields():
    rows = [movie(1, Overview="one\ntwo\nthree"), movie(2, Year="19x5")]
    # header = line 1, first record = lines 2-4, the bad record starts on line 5
    assert problems(catalog_csv(rows)) == [(5, "Year", "19x5", "Year must be a whole number, like 2025")]


@pytest.mark.parametrize(
    ("cells", "column", "reason"),
    [
        ({"TMDB_ID": ""}, "TMDB ID", "TMDB ID is required"),
        ({"TMDB_ID": "tt0137523"}, "TMDB ID", "TMDB ID must be a positive whole number, like 550"),
        ({"TMDB_ID": "0"}, "TMDB ID", "TMDB ID must be a positive whole number, like 550"),
        ({"Movie_Name": "  "}, "Movie Name", "Movie Name is required"),
        ({"Year": "2024.5"}, "Year", "Year must be a whole number, like 2025"),
        ({"Year": "0"}, "Year", "Year must be between 1870 and 2100"),
        ({"Year": "3000"}, "Year", "Year must be between 1870 and 2100"),
        ({"Year": "9" * 5000}, "Year", "Year must be between 1870 and 2100"),
        ({"Year": "２０２５"}, "Year", "Year must be a whole number, like 2025"),
        ({"TMDB_ID": "9" * 5000}, "TMDB ID", "TMDB ID must be a positive whole number, like 550"),
        ({"TMDB_ID": str(2**63)}, "TMDB ID", "TMDB ID must be a positive whole number, like 550"),
        ({"Rating": "high"}, "Rating", "Rating must be a number, like 6.2"),
        ({"Rating": "-1"}, "Rating", "Rating must be a number from 0 to 10"),
        ({"Rating": "11"}, "Rating", "Rating must be a number from 0 to 10"),
        ({"Rating": "NaN"}, "Rating", "Rating must be a number from 0 to 10"),
        ({"Rating": "1e309"}, "Rating", "Rating must be a number from 0 to 10"),
        ({"Runtime": "about two hours"}, "Runtime", "Runtime must be minutes, like '78 phút' or '64 phút/tập'"),
        ({"Runtime": "0 phút"}, "Runtime", "Runtime must be between 1 and 6000 minutes"),
        ({"Runtime": "100000 phút"}, "Runtime", "Runtime must be between 1 and 6000 minutes"),
        ({"Runtime": "9" * 5000}, "Runtime", "Runtime must be between 1 and 6000 minutes"),
        ({"Poster_URL": "javascript:alert(1)"}, "Poster URL", "Poster URL must be an http:// or https:// URL"),
        ({"Overview": "nul \x00 byte"}, "Overview", "Contains a NUL byte, which cannot be stored"),
        ({"Movie_Name": "bell \x07"}, "Movie Name", "Contains the control character U+0007"),
        ({"Overview": "two\nlines\x1b[0m"}, "Overview", "Contains the control character U+001B"),
    ],
)
def test_invalid_cells_are_named(cells, column, reason):
    [(line, got_column, value, got_reason)] = problems(catalog_csv([movie(1), movie(2, **cells)]))
    assert (line, got_column, got_reason) == (3, column, reason)
    assert value is not None and len(value) <= 80


def test_values_in_problems_are_truncated_to_80_characters():
    [(_, _, value, _)] = problems(catalog_csv([movie(1, Year="9" * 500)]))
    assert len(value) == 80 and value.endswith("…")


def test_every_problem_of_a_row_is_reported():
    reported = problems(catalog_csv([movie(1, Year="x", Rating="y")]))
    assert [(line, column) for line, column, _, _ in reported] == [(2, "Year"), (2, "Rating")]


def test_duplicate_tmdb_id_names_both_lines():
    assert problems(catalog_csv([movie(7), movie(8), movie(7)])) == [
        (4, "TMDB ID", "7", "TMDB ID 7 already appears on line 2")
    ]


def test_wrong_number_of_fields():
    data = catalog_csv([movie(1)]) + b"only,three,fields\r\n" + catalog_csv([movie(2)]).split(b"\r\n", 1)[1]
    assert problems(data) == [(3, None, None, "Expected 12 fields as in the header, found 3")]


def test_unclosed_quote_names_where_it_started():
    data = catalog_csv([movie(1)]) + b'Broken,"https://x.example/a,\r\nmore\r\n'
    [(line, _, _, reason)] = problems(data)
    assert line == 3
    assert "never closed" in reason


def test_field_over_the_size_limit_is_refused():
    [(line, _, _, reason)] = problems(catalog_csv([movie(1, Overview="x" * 200_000)]))
    assert line == 2 and "larger than" in reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "The file is empty; expected a header line and movie rows"),
        (b"\r\n", "The file is empty; expected a header line and movie rows"),
        (",".join(HEADER).encode() + b"\r\n", "The file has a header but no movie rows"),
        (b"Movie Name,Year\r\nX,2020\r\n", "Missing required column: TMDB ID"),
        (b"Movie Name,TMDB ID,Year,Year\r\nX,1,2020,2020\r\n", "Column 'Year' appears twice in the header"),
        (b"Movie Name,,TMDB ID\r\nX,,1\r\n", "Header column 2 has no name"),
    ],
)
def test_file_level_problems(data, reason):
    assert [r for _, _, _, r in problems(data)] == [reason]


@pytest.mark.parametrize("data", [b"Movie Name,TMDB ID\rA,1\rB,2\r", b"Movie Name,TMDB ID\nA,1\rB,2\n"])
def test_cr_only_line_ends_are_named(data):
    [(_, _, _, reason)] = problems(data)
    assert "CR alone" in reason


def test_semicolon_separated_file_gets_a_hint():
    [(_, _, _, reason)] = problems(";".join(HEADER).encode() + b"\r\nX;1\r\n")
    assert "must use commas" in reason


def test_non_utf8_input_names_the_line():
    data = catalog_csv([movie(1), movie(2, Movie_Name="Caf\u00e9")]).replace("é".encode(), "é".encode("cp1252"))
    [(line, _, _, reason)] = problems(data)
    assert line == 3
    assert "not valid UTF-8" in reason


def test_binary_file_is_refused_as_not_utf8():
    [(line, _, _, reason)] = problems(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(128, 256)))
    assert line == 1 and "not valid UTF-8" in reason


def test_only_the_first_100_problems_are_listed_but_all_are_counted():
    with pytest.raises(InvalidCsv) as caught:
        read(catalog_csv([movie(i, Year="bad") for i in range(1, 151)]))
    assert len(caught.value.problems) == 100
    assert caught.value.total == 150
    assert "and 149 more problems" in caught.value.detail


@pytest.mark.parametrize("name", ["movies", "trending", "tv_serials"])
def test_packaged_default_catalogs_are_valid(name):
    with (PACKAGED_CSV_DIR / f"{name}.csv").open("rb") as f:
        rows = read_catalog(f)
    assert 15 <= len(rows) <= 30
