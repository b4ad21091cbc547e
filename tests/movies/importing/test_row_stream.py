"""A big UTF-8 file is parsed in two child processes, one per half: same movies, lines and problems as one parser."""

import codecs
import csv
import io
import os
from array import array
from pathlib import Path

import pytest
from sqlalchemy import text

from moviemanager.errors import FileProblem, InvalidCsv
from moviemanager.movies.importing import row_stream
from moviemanager.movies.importing.copy_format import copy_line
from moviemanager.movies.importing.encodings import decode_lines
from moviemanager.movies.importing.file_ranges import (
    WHOLE_FILE,
    ByteRange,
    RangeReader,
    can_be_cut,
    halves,
    record_boundary,
)
from moviemanager.movies.importing.importer import ImportOptions, _drop_repeated_ids, import_catalog
from moviemanager.movies.importing.parse_workers import ParseReport
from moviemanager.movies.search import search_texts
from moviemanager.uow import UnitOfWork

from ...factories import HEADER, movie

ROWS = 240


@pytest.fixture
def in_processes(monkeypatch):
    """Every real file, however small, is parsed in child processes."""
    monkeypatch.setattr(row_stream, "PROCESS_THRESHOLD_BYTES", 1)


def catalog_rows(count: int = ROWS) -> list[dict[str, str]]:
    """Rows whose overviews hold line breaks, a blank line, commas and doubled quotes."""
    overview = 'Phần {i}: "trích dẫn", dòng một.\nDòng hai, với ""nháy"".\r\n\nDòng bốn "{i}"'
    return [movie(i, Overview=overview.format(i=i) if i % 3 else "Một dòng.") for i in range(1, count + 1)]


def write_catalog(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> list[int]:
    """Write the catalog; return the line each row starts on."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    starts = []
    for row in rows:
        starts.append(out.getvalue().count("\n") + 1)
        writer.writerow(row)
    path.write_bytes(out.getvalue().encode())
    return starts


def second_half_line(path: Path) -> int:
    """The first line of the second part; fails the test unless the file is cut in two."""
    with path.open("rb") as file:
        parts = halves(file.fileno())
    assert len(parts) == 2, parts
    return parts[1].first_line


async def load(sessions, tenant: str, source, **options):
    with source:
        return await import_catalog(UnitOfWork(sessions), tenant, source, ImportOptions(**options), source_name="test")


async def stored(sessions, tenant: str) -> list[tuple]:
    async with UnitOfWork(sessions).for_tenant(tenant) as uow:
        result = await uow.session.execute(
            text(
                "SELECT tmdb_id, checksum, data, sort_title, search_words::text FROM movies"
                " WHERE tenant = :tenant ORDER BY tmdb_id"
            ),
            {"tenant": tenant},
        )
        return [tuple(row) for row in result]


async def test_two_processes_store_what_one_thread_stores(sessions, tmp_path, in_processes):
    path = tmp_path / "catalog.csv"
    starts = write_catalog(path, [row | {"Director": "Ai Đó"} for row in catalog_rows()], [*HEADER, "Director"])
    assert second_half_line(path) in starts

    threaded = await load(sessions, "threaded", io.BytesIO(path.read_bytes()))
    split = await load(sessions, "split", path.open("rb"))

    assert split.loaded == threaded.loaded == ROWS
    assert split.warning_count == threaded.warning_count == 1  # the extra column, warned about once
    assert split.warnings == threaded.warnings
    assert await stored(sessions, "split") == await stored(sessions, "threaded")


async def test_progress_adds_up_both_halves(sessions, tmp_path, in_processes):
    path = tmp_path / "catalog.csv"
    write_catalog(path, catalog_rows())
    second_half_line(path)
    calls = []
    with path.open("rb") as source:
        report = await import_catalog(
            UnitOfWork(sessions), "progress", source, source_name="test", progress=lambda *call: calls.append(call)
        )
    assert calls[-1] == (report.loaded, path.stat().st_size)


async def test_a_repeated_id_keeps_its_first_line_and_reports_the_later(sessions, tmp_path, in_processes):
    rows = catalog_rows()
    rows[-1] = movie(5, Movie_Name="repeats id 5 of the first half")
    rows[-3] = movie(230, Movie_Name="repeats id 230, both in the second half")
    path = tmp_path / "catalog.csv"
    starts = write_catalog(path, rows)
    assert starts[4] < second_half_line(path) <= starts[229]

    report = await load(sessions, "dups", path.open("rb"), on_error="skip")

    assert report.loaded == ROWS - 2
    assert [(error.line, error.reason) for error in report.errors] == [
        (starts[-3], f"TMDB ID 230 already appears on line {starts[229]}"),
        (starts[-1], f"TMDB ID 5 already appears on line {starts[4]}"),
    ]
    names = {tmdb_id: data["movie_name"] for tmdb_id, _, data, *_ in await stored(sessions, "dups")}
    assert (names[5], names[230]) == ("Phim Số 5", "Phim Số 230")


async def test_the_first_line_wins_whatever_order_copy_received_the_rows(uow):
    """Chunks of the two halves reach COPY interleaved: line order, not COPY order, decides."""
    copied = [(7, "line 90"), (8, "line 20"), (7, "line 3"), (7, "line 50")]

    async def chunks():
        for tmdb_id, name in copied:
            data = {"movie_name": name}
            yield copy_line(b"order", tmdb_id, data, search_texts(data))

    async with uow.for_tenant("order"):
        bulk = uow.bulk_movies("order")
        table = await bulk.create_table(temporary=True)
        await bulk.copy(table, chunks())
        failing = ParseReport(lines=array("I", [90, 20, 3, 50]))
        with pytest.raises(InvalidCsv) as raised:
            await _drop_repeated_ids(bulk, table, failing, ImportOptions(on_error="fail"))
        assert [problem.line for problem in raised.value.problems] == [50, 90]
        assert await bulk.count(table) == 4  # all or nothing: nothing deleted

        skipping = ParseReport(lines=array("I", [90, 20, 3, 50]))
        await _drop_repeated_ids(bulk, table, skipping, ImportOptions(on_error="skip"))
        assert skipping.duplicates == 2
        assert [problem.reason for problem in skipping.problems] == ["TMDB ID 7 already appears on line 3"] * 2
        kept = await uow.session.execute(text(f"SELECT tmdb_id, data->>'movie_name' FROM \"{table}\" ORDER BY 1"))
        assert kept.all() == [(7, "line 3"), (8, "line 20")]


async def test_a_bad_row_in_the_second_half_names_its_physical_line(sessions, tmp_path, in_processes):
    rows = catalog_rows()
    rows[200] = movie(201, Year="19x5")
    path = tmp_path / "catalog.csv"
    starts = write_catalog(path, rows)
    assert second_half_line(path) <= starts[200]

    with pytest.raises(InvalidCsv) as raised:
        await load(sessions, "badrow", path.open("rb"))
    assert [(problem.line, problem.column) for problem in raised.value.problems] == [(starts[200], "Year")]

    report = await load(sessions, "badrow", path.open("rb"), on_error="skip")
    assert report.loaded == ROWS - 1
    assert [error.line for error in report.errors] == [starts[200]]


async def test_undecodable_bytes_in_the_second_half_name_their_line(sessions, tmp_path, in_processes):
    rows = catalog_rows()
    rows[210] = movie(211, Movie_Name="Phim BAD")
    path = tmp_path / "catalog.csv"
    starts = write_catalog(path, rows)
    path.write_bytes(path.read_bytes().replace(b"Phim BAD", b"Phim \xff"))
    assert second_half_line(path) <= starts[210]

    with pytest.raises(InvalidCsv) as raised:
        await load(sessions, "undecodable", path.open("rb"), on_error="skip")
    assert raised.value.problems[0].line == starts[210]
    assert "0xff" in raised.value.problems[0].reason


async def test_a_quote_never_closed_in_the_first_half_is_one_file_problem(sessions, tmp_path, in_processes):
    path = tmp_path / "catalog.csv"
    starts = write_catalog(path, catalog_rows())
    lines = path.read_bytes().split(b"\n")
    broken_line = starts[10]
    lines[broken_line - 1] = b'"Never closed' + lines[broken_line - 1]
    path.write_bytes(b"\n".join(lines))

    with pytest.raises(InvalidCsv) as raised:
        await load(sessions, "unclosed", path.open("rb"), on_error="skip")
    assert raised.value.total == 1
    (problem,) = raised.value.problems
    assert isinstance(problem, FileProblem) and problem.line == broken_line


async def test_a_quote_inside_an_unquoted_field_does_not_cut_the_file_wrongly(sessions, tmp_path, in_processes):
    """The csv module reads 12" as a plain character; quote parity is then odd at every real record end."""
    path = tmp_path / "catalog.csv"
    write_catalog(path, catalog_rows())
    path.write_bytes(path.read_bytes().replace(b"Phim S\xe1\xbb\x91 5,", b'Phim 12" 5,', 1))
    with path.open("rb") as file:
        assert halves(file.fileno()) == [WHOLE_FILE]

    threaded = await load(sessions, "threaded", io.BytesIO(path.read_bytes()))
    split = await load(sessions, "split", path.open("rb"))
    assert split.loaded == threaded.loaded == ROWS
    assert await stored(sessions, "split") == await stored(sessions, "threaded")


async def test_a_wrong_cut_fails_the_import_rather_than_storing_misread_rows(sessions, tmp_path, in_processes):
    """A stray quote, and an overview line that reads as a record: the first half then ends in a quoted field."""
    rows = catalog_rows()
    for i in range(100, 160):
        rows[i]["Overview"] = "Dòng một.\n" + ",".join(["x"] * 9)
    path = tmp_path / "catalog.csv"
    write_catalog(path, rows)
    path.write_bytes(path.read_bytes().replace(b"Phim S\xe1\xbb\x91 5,", b'Phim 12" 5,', 1))
    second_half_line(path)

    with pytest.raises(InvalidCsv) as raised:
        await load(sessions, "wrongcut", path.open("rb"), on_error="skip")
    assert isinstance(raised.value.problems[-1], FileProblem)


async def test_a_copy_that_ends_early_stops_both_children(tmp_path, in_processes):
    path = tmp_path / "catalog.csv"
    write_catalog(path, catalog_rows(4000))
    with path.open("rb") as source:
        stream = row_stream.row_stream(source, "early", "fail", None, None)
        chunks = stream.chunks()
        await anext(chunks)
        await chunks.aclose()
        await stream.finish()
    assert len(stream._children) == 2
    assert all(child.returncode is not None for child in stream._children)


def boundary_of(tmp_path: Path, data: bytes) -> tuple[int, int] | None:
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        return record_boundary(fd, len(data))
    finally:
        os.close(fd)


def test_the_cut_skips_line_breaks_and_doubled_quotes_inside_quoted_fields(tmp_path):
    first = b'a,b,c\n1,"x\n""y"",\n""\n",3\n'
    quoted_middle = b'2,"long\n""quoted"" text\n, with\nbreaks",3\n'
    data = first + quoted_middle + b"3,z,3\n4,w,4\n"
    offset, line = boundary_of(tmp_path, data)
    assert data[offset:].startswith(b"3,z,3\n")
    assert line == data[:offset].count(b"\n") + 1 == 10


@pytest.mark.parametrize("shift", range(12))
def test_the_cut_lands_on_the_first_record_start_past_the_middle(tmp_path, shift):
    rows = b"".join(b'%d,"t\n""%d""",x\n' % (i, i) for i in range(100, 140))
    data = b"a,b,c\n" + b"x" * shift + b",b,c\n" + rows
    offset, line = boundary_of(tmp_path, data)
    assert len(data) // 2 <= offset < len(data) // 2 + len(b'100,"t\n""100""",x\n')
    assert data[offset - 1 : offset] == b"\n" and data[offset + 3 : offset + 6] == b',"t'
    assert line == data[:offset].count(b"\n") + 1


def test_a_record_with_the_wrong_number_of_fields_is_not_a_cut(tmp_path):
    # The middle (61) falls on the line before the two-field record, which would be the cut.
    data = b"a,b,c\n" + b"1,2,3\n" * 10 + b"only,two\n" + b"4,5,6\n" * 8
    offset, line = boundary_of(tmp_path, data)
    assert data[:offset].endswith(b"only,two\n")
    assert line == 13


def test_no_cut_after_a_quote_that_never_closes(tmp_path):
    assert boundary_of(tmp_path, b'a,b,c\n"open,2,3\n' + b"1,2,3\n" * 20) is None


def test_no_cut_without_a_record_after_the_middle(tmp_path):
    assert boundary_of(tmp_path, b"a,b,c\n1,2," + b"x" * 100 + b"\n") is None


@pytest.mark.parametrize(
    ("data", "encoding", "cut"),
    [
        (b"a,b,c\n", None, True),
        (codecs.BOM_UTF8 + b"a,b,c\n", None, True),
        (b"a,b,c\n", "UTF8", True),
        (b"a,b,c\n", "cp1252", False),
        ("a,b,c\n".encode("utf-16"), None, False),
    ],
)
def test_only_utf8_files_are_cut(tmp_path, data, encoding, cut):
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    with path.open("rb") as file:
        assert can_be_cut(file.fileno(), encoding) is cut


def test_a_cut_part_does_not_lose_a_byte_order_mark_like_character(tmp_path):
    """Mid-file, EF BB BF is text (U+FEFF), not a byte order mark to drop."""
    path = tmp_path / "file.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"a\n" + codecs.BOM_UTF8 + b"b\n")
    with path.open("rb") as file:
        part = RangeReader(file.fileno(), ByteRange(5, None, 2))
        assert list(decode_lines(part, "utf-8", first_line=2)) == ["\ufeffb\n"]
