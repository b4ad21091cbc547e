"""Building catalog CSVs for tests, and reading a small one whole."""

import csv
import io
import itertools
from collections.abc import Iterable, Set

from moviemanager.errors import MAX_REPORTED_PROBLEMS, CsvProblem, CsvWarning, InvalidCsv
from moviemanager.movies.importing.csv_rows import MovieRow, duplicate_problem, parse_movies
from moviemanager.movies.importing.encodings import decode_lines

HEADER = [
    "Movie Name",
    "Movie Link",
    "Fshare Link",
    "Original Title",
    "Genre",
    "Year",
    "Runtime",
    "Rating",
    "Overview",
    "Poster URL",
    "Backdrop URL",
    "TMDB ID",
]


def movie(tmdb_id: int, **cells: str) -> dict[str, str]:
    """A valid row; keyword arguments override cells, by header name with '_' for ' '."""
    row = {
        "Movie Name": f"Phim Số {tmdb_id}",
        "Movie Link": f"https://phimmoi.example/phim/{tmdb_id}",
        "Fshare Link": "",
        "Original Title": f"Movie {tmdb_id}",
        "Genre": "Phim Hài, Phim Nhạc",
        "Year": "2024",
        "Runtime": "95 phút",
        "Rating": "7.1",
        "Overview": "Một câu chuyện, với dấu phẩy.",
        "Poster URL": "",
        "Backdrop URL": "",
        "TMDB ID": str(tmdb_id),
    }
    row.update({name.replace("_", " "): value for name, value in cells.items()})
    return row


def catalog_csv(rows: list[dict[str, str]], header: list[str] | None = None, *, newline: str = "\r\n") -> bytes:
    header = header or (list(rows[0]) if rows else HEADER)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator=newline)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def read_catalog(raw_lines: Iterable[bytes], *, category_ids: Set[int] = frozenset()) -> list[MovieRow]:
    """Parse a whole small UTF-8 catalog in memory; raise InvalidCsv listing every problem found.
    `category_ids`: the categories a Category ID may name.

    The import pipeline streams instead, and PostgreSQL finds its duplicates.
    """
    rows: list[MovieRow] = []
    problems: list[CsvProblem] = []
    problem_count = 0
    seen_on_line: dict[int, int] = {}
    for item in parse_movies(decode_lines(ByteLines(raw_lines)), category_ids=category_ids):
        if isinstance(item, CsvWarning):
            continue
        if isinstance(item, MovieRow):
            if item.tmdb_id not in seen_on_line:
                seen_on_line[item.tmdb_id] = item.line
                rows.append(item)
                continue
            item = duplicate_problem(item.line, item.tmdb_id, seen_on_line[item.tmdb_id])
        problem_count += 1
        if len(problems) < MAX_REPORTED_PROBLEMS:
            problems.append(item)
    if problems:
        raise InvalidCsv(problems, problem_count)
    if not rows:
        raise InvalidCsv([CsvProblem(2, None, None, "The file has a header but no movie rows")])
    return rows


class ByteLines:
    """A file-like view of an iterable of byte lines (an open file, or a test's list)."""

    def __init__(self, raw_lines: Iterable[bytes]) -> None:
        self._lines = iter(raw_lines)

    def read(self, size: int = -1) -> bytes:
        return b"".join(itertools.islice(self._lines, 4096))
