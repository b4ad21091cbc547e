"""Catalog CSV files: generating them, counting their rows and cutting prefixes, byte for byte."""

import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import gen_csv


def iter_records(path: Path) -> Iterator[bytes]:
    """The file's CSV records as raw bytes, header first; a record ends where its quotes balance."""
    with path.open("rb") as lines:
        record, quotes = [], 0
        for line in lines:
            record.append(line)
            quotes += line.count(b'"')
            if quotes % 2 == 0:
                yield b"".join(record)
                record, quotes = [], 0
        if record:
            yield b"".join(record)


def count_rows(path: Path) -> int:
    return sum(1 for _ in iter_records(path)) - 1


def write_prefix(source: Path, target: Path, rows: int) -> Path:
    """Copy the header and the first `rows` records of `source`, byte for byte."""
    with target.open("wb") as out:
        out.writelines(islice(iter_records(source), rows + 1))
    return target


def timed_generate(path: Path, rows: int, seed: int) -> Path:
    started = time.perf_counter()
    gen_csv.generate_file(path, rows, seed)
    print(f"generated {rows:,} rows into {path} in {time.perf_counter() - started:.1f} s", flush=True)
    return path
