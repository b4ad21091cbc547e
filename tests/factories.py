"""Building catalog CSVs for tests."""

import csv
import io

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
