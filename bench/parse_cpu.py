"""CPU time a row of the import's parser takes, without a database: the whole parse (`parse_to_copy()`,
COPY lines included) or the search texts alone, over a catalog file, in a fresh process (cold caches).

    uv run python bench/parse_cpu.py FILE parse_to_copy
    uv run python bench/parse_cpu.py FILE search

Process CPU time, not wall time: the machine is shared, but other processes' load still slows this
one's caches and clock (run before and after alternately, and compare).
"""

import csv
import sys
import time

from moviemanager.movies import search
from moviemanager.movies.importing.parse_workers import parse_to_copy


def parse_rows(path: str) -> int:
    with open(path, "rb") as source:
        parsed = parse_to_copy(source, "bench", "skip", "utf-8", lambda chunk, lines: True)
    return len(parsed.lines)


def search_rows(path: str) -> tuple[int, float]:
    """The search texts of every row, timed apart from reading the file."""
    with open(path, encoding="utf-8", newline="") as lines:
        movies = [
            {"movie_name": row["Movie Name"], "original_title": row["Original Title"], "overview": row["Overview"]}
            for row in csv.DictReader(lines)
        ]
    # search_fields before the texts had columns of their own (migration 0010).
    derive = getattr(search, "search_texts", None) or search.search_fields
    started = time.process_time()
    for movie in movies:
        derive(movie)
    return len(movies), time.process_time() - started


def main() -> None:
    path, what = sys.argv[1], sys.argv[2]
    if what == "parse_to_copy":
        started = time.process_time()
        rows = parse_rows(path)
        seconds = time.process_time() - started
    else:
        rows, seconds = search_rows(path)
    print(f"{what}: {rows:,} rows, {seconds:.2f} s CPU, {seconds / rows * 1e6:.2f} µs a row")


if __name__ == "__main__":
    main()
