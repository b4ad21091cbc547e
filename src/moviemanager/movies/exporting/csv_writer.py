"""Writing movies as a catalog CSV in the seed's format, the one `importing/csv_rows.py` reads.

Pure: no database, no HTTP. `catalog_chunks` turns (tmdb_id, data) pairs into UTF-8 byte chunks:
the header, then one record per movie (CRLF line ends, fields quoted only when needed).
"""

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

from ..columns import COLUMNS
from ..formulas import escape_formula

CHUNK_CHARS = 64 * 1024


def header(extra_columns: Sequence[str]) -> list[str]:
    return [escape_formula(name) for name in (*COLUMNS, *extra_columns)]


def movie_cells(tmdb_id: int, data: dict[str, Any], extra_columns: Sequence[str]) -> list[str]:
    """One movie's record: the seed's columns in order, then `extra_columns` from data["extra"]."""
    cells = [str(tmdb_id) if key == "tmdb_id" else _cell(data.get(key)) for key in COLUMNS.values()]
    extra = data.get("extra") or {}
    return cells + [_cell(extra.get(name)) for name in extra_columns]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_formula(value)
    # Year (int) and rating (float): str() of a float is its shortest form that parses back the same.
    return str(value)


async def catalog_chunks(
    extra_columns: Sequence[str],
    movies: AsyncIterable[tuple[int, dict[str, Any]]],
    *,
    chunk_chars: int = CHUNK_CHARS,
) -> AsyncIterator[bytes]:
    """The whole CSV, header first, as encoded chunks of about `chunk_chars` characters."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # the csv module's default dialect: CRLF, minimal quoting
    writer.writerow(header(extra_columns))
    async for tmdb_id, data in movies:
        writer.writerow(movie_cells(tmdb_id, data, extra_columns))
        if buffer.tell() >= chunk_chars:
            yield _drain(buffer)
    if buffer.tell():
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode("utf-8")
