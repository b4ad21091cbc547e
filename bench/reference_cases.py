"""The reference cases, without the project's code: (a) psql \\copy + INSERT … SELECT, (b) the seed's ORM
add_all and (c) SQLAlchemy Core executemany, each into a table of the same shape and indexes."""

import asyncio
import csv
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import gen_csv
from catalog_files import write_prefix
from harness import TENANT, Bench, CaseResult, checkpoint, psql
from sqlalchemy import BigInteger, Column, Index, MetaData, Table, Text, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase

CORE_BATCH_ROWS = 10_000

# CSV header → snake_case name: a staging column and a key of the JSONB document.
COLUMN_KEYS = {header: header.lower().replace(" ", "_") for header in gen_csv.HEADER}
DOCUMENT_KEYS = [key for key in COLUMN_KEYS.values() if key != "tmdb_id"]


# ---------------------------------------------------------------- (a) baseline: psql \copy + INSERT … SELECT

BASELINE_DDL = [
    "DROP TABLE IF EXISTS baseline_staging, baseline_movies",
    f"CREATE TABLE baseline_staging ({', '.join(f'{key} text' for key in COLUMN_KEYS.values())})",
    "CREATE TABLE baseline_movies (tenant text NOT NULL, tmdb_id bigint NOT NULL, data jsonb NOT NULL)",
    "CREATE UNIQUE INDEX baseline_movies_key ON baseline_movies (tenant, tmdb_id)",
    "CREATE INDEX baseline_movies_data ON baseline_movies USING gin (data jsonb_path_ops)",
]


def baseline_value(key: str) -> str:
    """The SQL expression for one document key: empty cells become null, year and rating numbers."""
    if key == "year":
        return "nullif(year, '')::int"
    if key == "rating":
        return "nullif(rating, '')::numeric"
    return f"nullif({key}, '')"


BASELINE_INSERT = (
    "INSERT INTO baseline_movies (tenant, tmdb_id, data) "
    f"SELECT '{TENANT}', tmdb_id::bigint, jsonb_build_object("
    + ", ".join(f"'{key}', {baseline_value(key)}" for key in DOCUMENT_KEYS)
    + ") FROM baseline_staging"
)


def run_baseline(bench: Bench) -> CaseResult:
    psql(bench.sql_url, *BASELINE_DDL)
    checkpoint(bench)
    quoted_path = str(bench.catalog).replace("'", "''")
    try:
        copy_seconds = stopwatch(
            psql, bench.sql_url, f"\\copy baseline_staging FROM '{quoted_path}' WITH (FORMAT csv, HEADER true)"
        )
        insert_seconds = stopwatch(psql, bench.sql_url, BASELINE_INSERT)
        loaded = int(psql(bench.sql_url, "SELECT count(*) FROM baseline_movies"))
    finally:
        psql(bench.sql_url, "DROP TABLE IF EXISTS baseline_staging, baseline_movies")
    return CaseResult(
        "(a) baseline: psql \\copy + INSERT…SELECT",
        loaded,
        copy_seconds + insert_seconds,
        notes=f"\\copy {copy_seconds:.2f} s + INSERT…SELECT {insert_seconds:.2f} s",
        details={"copy_seconds": copy_seconds, "insert_seconds": insert_seconds},
    )


def stopwatch(function: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


# ---------------------------------------------------------------- (b) seed ORM and (c) Core executemany


def movie_table(name: str, metadata: MetaData) -> Table:
    """A table shaped like baseline_movies: no primary key, a unique key index and a GIN index."""
    return Table(
        name,
        metadata,
        Column("tenant", Text, nullable=False),
        Column("tmdb_id", BigInteger, nullable=False),
        Column("data", JSONB, nullable=False),
        Index(f"{name}_key", "tenant", "tmdb_id", unique=True),
        Index(f"{name}_data", "data", postgresql_using="gin", postgresql_ops={"data": "jsonb_path_ops"}),
    )


class OrmBase(DeclarativeBase):
    pass


class OrmMovie(OrmBase):
    __table__ = movie_table("bench_orm_movies", OrmBase.metadata)
    # The table has a unique index rather than a primary key; the mapper needs to be told the identity.
    __mapper_args__ = {"primary_key": [__table__.c.tenant, __table__.c.tmdb_id]}


CORE_TABLE = movie_table("bench_core_movies", MetaData())


def read_movies(path: Path) -> Iterator[dict[str, Any]]:
    """Each CSV row as {tenant, tmdb_id, data}, `data` holding the same document as the baseline's."""
    with path.open(encoding="utf-8", newline="") as lines:
        for record in csv.DictReader(lines):
            cells = {COLUMN_KEYS[header]: value.strip() for header, value in record.items()}
            data: dict[str, Any] = {key: cells[key] or None for key in DOCUMENT_KEYS}
            data["year"] = int(cells["year"]) if cells["year"] else None
            data["rating"] = float(cells["rating"]) if cells["rating"] else None
            yield {"tenant": TENANT, "tmdb_id": int(cells["tmdb_id"]), "data": data}


def batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of `size` items, the last one shorter (itertools.batched needs Python 3.12)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


async def load_with_orm(url: str, path: Path) -> tuple[int, float]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(OrmBase.metadata.drop_all)
            await conn.run_sync(OrmBase.metadata.create_all)
        started = time.perf_counter()
        async with AsyncSession(engine) as session:
            movies = [OrmMovie(**movie) for movie in read_movies(path)]
            session.add_all(movies)
            await session.commit()
        seconds = time.perf_counter() - started
        async with engine.begin() as conn:
            await conn.run_sync(OrmBase.metadata.drop_all)
        return len(movies), seconds
    finally:
        await engine.dispose()


async def load_with_core(url: str, path: Path) -> tuple[int, float]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(CORE_TABLE.metadata.drop_all)
            await conn.run_sync(CORE_TABLE.metadata.create_all)
        started = time.perf_counter()
        loaded = 0
        async with engine.begin() as conn:
            for batch in batches(read_movies(path), CORE_BATCH_ROWS):
                await conn.execute(insert(CORE_TABLE), batch)
                loaded += len(batch)
        seconds = time.perf_counter() - started
        async with engine.begin() as conn:
            await conn.run_sync(CORE_TABLE.metadata.drop_all)
        return loaded, seconds
    finally:
        await engine.dispose()


def run_orm(bench: Bench) -> CaseResult:
    rows = min(bench.args.orm_rows, bench.rows)
    prefix = write_prefix(bench.catalog, bench.workdir / f"orm_prefix_{rows}.csv", rows)
    checkpoint(bench)
    loaded, seconds = asyncio.run(load_with_orm(bench.asyncpg_url, prefix))
    return CaseResult("(b) seed ORM: csv + session.add_all", loaded, seconds, notes=f"first {loaded:,} rows only")


def run_core(bench: Bench) -> CaseResult:
    checkpoint(bench)
    loaded, seconds = asyncio.run(load_with_core(bench.asyncpg_url, bench.catalog))
    return CaseResult(
        "(c) Core executemany (asyncpg)",
        loaded,
        seconds,
        notes=f"all rows, batches of {CORE_BATCH_ROWS:,}, one transaction",
    )
