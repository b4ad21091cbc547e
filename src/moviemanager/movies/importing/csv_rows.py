"""Reading a catalog CSV in the seed's format into validated movie rows.

Pure: no database, no HTTP. `parse_movies` turns text lines into validated rows, or problems
naming line, column and value, one record at a time.
"""

import csv
import math
import re
from collections.abc import Callable, Iterable, Iterator, Set
from dataclasses import dataclass
from typing import Any

from ...errors import CsvProblem, CsvWarning, FileProblem
from ..columns import COLUMNS, REQUIRED_COLUMNS, RUNTIME_RANGE, YEAR_RANGE, digits_in_range, tmdb_id_from_text
from ..formulas import unescape_formula
from ..genres import EXPLICIT_CATEGORY_KEY, genre_keys, split_genres
from ..search import SearchTexts, search_texts

PLAIN_TEXT_COLUMNS = ("Original Title", "Overview")  # stored as written, no check
URL_COLUMNS = ("Movie Link", "Fshare Link", "Poster URL", "Backdrop URL")

VALUE_PREVIEW_CHARS = 80

RUNTIME_PATTERN = re.compile(
    r"(?P<minutes>[0-9]+)\s*(?:phút|phut|p|min|mins|minutes|m)?\.?\s*(?P<per_episode>/\s*(?:tập|tap|ep|episode))?",
    re.IGNORECASE,
)
URL_PATTERN = re.compile(r"https?://[^\s/?#]+\S*", re.IGNORECASE)
# C0 controls and DEL, except tab, line feed and carriage return, which CSV text legitimately holds.
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class MovieRow:
    line: int
    tmdb_id: int
    data: dict[str, Any]
    texts: SearchTexts  # stored beside the data, for sorting and searching (see search.py)


class _CellError(ValueError):
    """A cell's value is unusable; the message is the reason shown to the user."""


def duplicate_problem(line: int, tmdb_id: int, first_line: int | None) -> CsvProblem:
    where = f" on line {first_line}" if first_line is not None else ""
    return CsvProblem(line, "TMDB ID", str(tmdb_id), f"TMDB ID {tmdb_id} already appears{where}")


def parse_movies(
    lines: Iterable[str],
    *,
    header: list[str] | None = None,
    first_line: int = 1,
    category_ids: Set[int] = frozenset(),
) -> Iterator[MovieRow | CsvProblem | CsvWarning]:
    """Yield a MovieRow, or the CsvProblems that keep it out, for every record after the header.

    A FileProblem (a bad header, an unbalanced quote) ends the file: nothing after it can be read.
    Warnings flag what was read but may not mean what the file intended. Duplicate TMDB ids are
    not checked here (that needs memory proportional to the file).

    For a part of a file that starts on a record boundary, pass the file's `header` (see
    read_header) and the part's `first_line`: lines are numbered as in the whole file, and the
    header is neither read nor warned about again.

    `category_ids` are the categories that exist: a Category ID naming another is a row problem.
    The importer reads them when it starts (the parsers cannot ask the database).
    """
    reader = csv.reader(lines, strict=True)
    if header is None:
        header_or_problem = _read_header(reader)
        if isinstance(header_or_problem, CsvProblem):
            yield header_or_problem
            return
        header = header_or_problem
        yield from _header_warnings(header)
    validate = _RowValidator(header, category_ids)
    lines_before = first_line - 1

    while True:
        start_line = lines_before + reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = _describe_csv_error(exc, start_line, lines_before + reader.line_num)
            yield FileProblem(start_line, None, None, reason)
            return  # the reader cannot resync after a quoting error
        if not cells or cells == [""]:
            continue  # blank line
        if len(cells) != len(header):
            yield CsvProblem(
                start_line, None, None, f"Expected {len(header)} fields as in the header, found {len(cells)}"
            )
            continue
        yield from validate(start_line, cells)


def read_header(lines: Iterable[str]) -> list[str] | CsvProblem:
    """The column names of a catalog file, from its first record, or why they cannot be used."""
    return _read_header(csv.reader(lines, strict=True))


def _header_warnings(header: list[str]) -> Iterator[CsvWarning]:
    for column in header:
        if column not in COLUMNS:
            reason = f"Column {column!r} is not a catalog column; its values are kept in 'extra'"
            yield CsvWarning(1, column, None, reason)


def _read_header(reader: "csv._reader") -> list[str] | CsvProblem:
    try:
        header = next(reader, None)
    except csv.Error as exc:
        reason = _describe_csv_error(exc, 1, reader.line_num)
        return FileProblem(1, None, None, f"The header line cannot be read: {reason}")
    if header is None or header == [] or header == [""]:
        return FileProblem(1, None, None, "The file is empty; expected a header line and movie rows")

    canonical = {name.casefold(): name for name in COLUMNS}
    cells = [unescape_formula(cell.strip()) for cell in header]
    names = [canonical.get(cell.casefold(), cell) for cell in cells]
    for position, name in enumerate(names, start=1):
        if not name:
            return FileProblem(1, None, None, f"Header column {position} has no name")
        if names.index(name) != position - 1:
            return FileProblem(1, name, name[:VALUE_PREVIEW_CHARS], f"Column {name!r} appears twice in the header")
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        reason = f"Missing required column{'s' * (len(missing) > 1)}: {', '.join(missing)}"
        if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
            reason += "; the file seems to use ';' or tabs between fields, but it must use commas"
        return FileProblem(1, None, None, reason)
    return names


def _describe_csv_error(exc: csv.Error, start_line: int, end_line: int) -> str:
    message = str(exc)
    if "new-line character seen in unquoted field" in message:
        return "Lines must end with LF or CRLF; this file seems to use CR alone"
    if "unexpected end of data" in message:
        return f"A quoted field starting on line {start_line} is never closed (the file ended on line {end_line})"
    if "field larger than field limit" in message:
        return f"A field is larger than {csv.field_size_limit() // 1024} KB"
    if "expected after" in message:
        return (
            "A stray quote: a quoted field is followed by more text before the next comma; "
            'inside a quoted field write a quote as two ("")'
        )
    return f"Malformed CSV: {message}"


class _RowValidator:
    """Validates the rows of one header. Plain text cells are copied in bulk; only the cells that
    need parsing or checking go through a converter (this loop runs a million times per import)."""

    def __init__(self, header: list[str], category_ids: Set[int]) -> None:
        self.header = header
        self.plain = [(i, COLUMNS[column]) for i, column in enumerate(header) if column in PLAIN_TEXT_COLUMNS]
        converters = {**CONVERTERS, "Category ID": _category(category_ids)}
        self.converted = [(i, column, converters[column]) for i, column in enumerate(header) if column in converters]
        self.extra = [(i, column) for i, column in enumerate(header) if column not in COLUMNS]

    def __call__(self, line: int, cells: list[str]) -> list[MovieRow | CsvProblem | CsvWarning]:
        """The row ready to store and its warnings, or every problem in it."""
        values = [cell.strip() for cell in cells]
        problems: list[CsvProblem | CsvWarning] = []
        joined = "".join(values)
        if "'" in joined:  # undo an export's formula escaping ('=x → =x)
            values = [unescape_formula(value) for value in values]
        # Printable text holds no control character: a quick pass settles most rows, and the
        # regex (several times slower) reads only the others (line breaks, tabs, no-break spaces).
        if not joined.isprintable() and CONTROL_CHARACTER.search(joined) is not None:  # rare: find the cells
            problems = [
                CsvProblem(line, self.header[i], _preview(cells[i]), reason)
                for i, reason in _control_characters(values)
            ]
        data: dict[str, Any] = {key: values[i] or None for i, key in self.plain}
        for i, column, convert in self.converted:
            try:
                if warning := convert(values[i], data):
                    problems.append(CsvWarning(line, column, _preview(cells[i]), warning))
            except _CellError as exc:
                problems.append(CsvProblem(line, column, _preview(cells[i]), str(exc)))
        if problems and any(not isinstance(problem, CsvWarning) for problem in problems):
            return problems
        data["extra"] = {column: values[i] or None for i, column in self.extra}
        if (category := data.get("category_id")) is not None:  # last: the Genre cell may come after it
            data["genre_keys"] = [*data.get("genre_keys", ()), {EXPLICIT_CATEGORY_KEY: category}]
        tmdb_id = data.pop("tmdb_id")
        return [*problems, MovieRow(line, tmdb_id, data, search_texts(data))]


def _control_characters(values: list[str]) -> Iterator[tuple[int, str]]:
    for i, value in enumerate(values):
        control = CONTROL_CHARACTER.search(value)
        if control is None:
            continue
        if control.group() == "\x00":
            yield i, "Contains a NUL byte, which cannot be stored"
        else:
            yield i, f"Contains the control character U+{ord(control.group()):04X}"


# A converter stores a known column's cell into the movie's data, returns a warning or None,
# and raises _CellError when the cell is unusable.
Converter = Callable[[str, dict[str, Any]], str | None]


def _text(column: str) -> Converter:
    """A required text column."""
    key = COLUMNS[column]

    def convert(value: str, data: dict[str, Any]) -> None:
        if not value:
            raise _CellError(f"{column} is required")
        data[key] = value

    return convert


def _url(column: str) -> Converter:
    key = COLUMNS[column]

    def convert(value: str, data: dict[str, Any]) -> None:
        if value and not URL_PATTERN.fullmatch(value):
            raise _CellError(f"{column} must be an http:// or https:// URL")
        data[key] = value or None

    return convert


def _convert_tmdb_id(value: str, data: dict[str, Any]) -> None:
    if not value:
        raise _CellError("TMDB ID is required")
    data["tmdb_id"] = _parse_tmdb_id(value)


def _convert_year(value: str, data: dict[str, Any]) -> None:
    data["year"] = _parse_year(value)


def _convert_rating(value: str, data: dict[str, Any]) -> str | None:
    if "," in value:
        data["rating"] = _parse_rating(value.replace(",", ".", 1))
        return f"Read as {data['rating']} (decimal comma)"
    data["rating"] = _parse_rating(value)
    return None


def _convert_runtime(value: str, data: dict[str, Any]) -> None:
    if not value:
        data["runtime"] = data["runtime_minutes"] = data["runtime_per_episode"] = None
        return
    match = RUNTIME_PATTERN.fullmatch(value)
    if match is None:
        raise _CellError("Runtime must be minutes, like '78 phút' or '64 phút/tập'")
    if not digits_in_range(match["minutes"], *RUNTIME_RANGE):
        raise _CellError(f"Runtime must be between {RUNTIME_RANGE[0]} and {RUNTIME_RANGE[1]} minutes")
    data["runtime"] = value
    data["runtime_minutes"] = int(match["minutes"])
    data["runtime_per_episode"] = match["per_episode"] is not None


def _convert_genre(value: str, data: dict[str, Any]) -> None:
    genres = split_genres(value)
    data["genre"] = value or None
    data["genres"] = genres
    data["genre_keys"] = genre_keys(genres)  # canonical ids; the parser tallies unknown names


def _category(category_ids: Set[int]) -> Converter:
    """Category ID: empty, or the id of an existing category, stored as data["category_id"] (absent
    when empty, so a file without the column stores what it stored before)."""

    def convert(value: str, data: dict[str, Any]) -> None:
        if not value:
            return
        if not (value.isascii() and value.isdigit()):
            raise _CellError("Category ID must be a category's id, a whole number like 3")
        category = int(value) if len(value) <= 12 else None
        if category not in category_ids:
            raise _CellError(f"Category ID {value} is no category (see GET /categories)")
        data["category_id"] = category

    return convert


CONVERTERS: dict[str, Converter] = {
    "Movie Name": _text("Movie Name"),
    **{column: _url(column) for column in URL_COLUMNS},
    "TMDB ID": _convert_tmdb_id,
    "Year": _convert_year,
    "Rating": _convert_rating,
    "Runtime": _convert_runtime,
    "Genre": _convert_genre,
}


def _parse_tmdb_id(value: str) -> int:
    tmdb_id = tmdb_id_from_text(value)
    if tmdb_id is None:
        raise _CellError("TMDB ID must be a positive whole number, like 550")
    return tmdb_id


def _parse_year(value: str) -> int | None:
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        raise _CellError("Year must be a whole number, like 2025")
    if not digits_in_range(value, *YEAR_RANGE):
        raise _CellError(f"Year must be between {YEAR_RANGE[0]} and {YEAR_RANGE[1]}")
    return int(value)


def _parse_rating(value: str) -> float | None:
    if not value:
        return None
    try:
        rating = float(value)
    except ValueError:
        raise _CellError("Rating must be a number, like 6.2") from None
    if not math.isfinite(rating) or not 0 <= rating <= 10:
        raise _CellError("Rating must be a number from 0 to 10")
    return rating


def _preview(value: str) -> str:
    """The cell as shown back in an error: at most 80 characters, with NULs made visible."""
    shown = value.replace("\x00", "\\0")
    if len(shown) > VALUE_PREVIEW_CHARS:
        return shown[: VALUE_PREVIEW_CHARS - 1] + "…"
    return shown
