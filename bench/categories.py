"""Benchmark the category tree and the per-tenant report, against baselines measured in the same run.

    uv run python bench/categories.py --file /tmp/movies_1m.csv
    uv run python bench/categories.py --rows 100000          # generates the catalog first

The database named by --database-url (default …/moviemanager_bench_categories) is dropped and created
again, migrated, and the catalog imported as tenant `bench` with the project's importer. Then, each
timed --repeat times through the app (in-process ASGI: routing, service, SQL, JSON), median shown:

  1. the unfiltered report, GET /categories?tenant=bench (target < 100 ms on 1M movies), against the
     baseline: a live roll-up, count(DISTINCT movie) per ancestor over a closure join;
  2. filtered reports, year / genre / both (target < 1 s), with an EXPLAIN ANALYZE summary;
  3. the stored counts compared with the live ones (they must be equal);
  4. --tree-nodes categories added (depth --tree-depth), then GET /categories (target < 0.5 s), against
     the baseline: fetching the same rows flat, without nesting or JSON; and the report again, after the
     recount every tenant gets when the tree changes (timed too).
"""

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from catalog_files import timed_generate
from harness import recreate_database
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from moviemanager.app import create_app, serving
from moviemanager.categories.repository import CategoryRepository
from moviemanager.config import Settings
from moviemanager.db import app_url, async_url, create_engine, create_sessionmaker
from moviemanager.migrations import upgrade_to_head
from moviemanager.movies.category_counts import MOVIE_CATEGORIES_SQL, category_counts
from moviemanager.movies.importing.importer import import_catalog
from moviemanager.movies.reading.filters import MovieFilters
from moviemanager.uow import UnitOfWork

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/moviemanager_bench_categories"
TENANT = "bench"
FILTERS = [{"year": 2001}, {"genre": "35"}, {"genre": "35", "year": 2001}]

LIVE_ROLL_UP = """
WITH RECURSIVE closure AS (
    SELECT id AS ancestor, id FROM categories
    UNION ALL
    SELECT closure.ancestor, categories.id FROM categories JOIN closure ON categories.parent_id = closure.id
)
SELECT closure.ancestor, count(DISTINCT movies.tmdb_id)
FROM movies
CROSS JOIN LATERAL jsonb_array_elements(movies.data -> 'genre_keys') AS genre(key)
JOIN genre_categories ON to_jsonb(genre_categories.genre_id) = genre.key
JOIN closure ON closure.id = genre_categories.category_id
WHERE movies.tenant = :tenant GROUP BY closure.ancestor
"""
# A movie's categories, as the app derives them (movies/category_counts.py).
MOVIE_CATEGORIES = MOVIE_CATEGORIES_SQL.format(genre_keys="movies.data -> 'genre_keys'")
MOVIE_CATEGORY_PAIRS = f"""
SELECT count(*) FROM movies CROSS JOIN LATERAL {MOVIE_CATEGORIES} AS category
WHERE movies.tenant = :tenant
"""
FLAT_TREE = "SELECT id, parent_id, name FROM categories"


async def timed(repeat: int, call) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def line(label: str, seconds: float, target: float | None = None, baseline: float | None = None) -> None:
    parts = [f"{label:<58} {seconds * 1000:9.1f} ms"]
    if target is not None:
        parts.append(f"target < {target * 1000:.0f} ms: {'met' if seconds < target else 'NOT met'}")
    if baseline is not None:
        parts.append(f"baseline {baseline * 1000:.1f} ms, {baseline / seconds:.1f}x faster")
    print("  ".join(parts), flush=True)


async def add_tree(engine, nodes: int, depth: int) -> None:
    """`nodes` categories below the existing roots, `depth` levels deep (the roots are level 0)."""
    rng = random.Random(1)
    async with engine.begin() as conn:
        next_id = await conn.scalar(text("SELECT max(id) + 1 FROM categories"))
        roots = list(await conn.scalars(text("SELECT id FROM categories WHERE parent_id IS NULL")))
        per_level = nodes // (depth - 1)
        previous, rows = roots, []
        for level in range(1, depth):
            count = per_level if level < depth - 1 else nodes - per_level * (depth - 2)
            current = list(range(next_id, next_id + count))
            rows += [(i, rng.choice(previous), f"Bench {level}.{i}") for i in current]
            next_id += count
            previous = current
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.copy_records_to_table("categories", records=rows, columns=["id", "parent_id", "name"])
        await conn.execute(text("SELECT setval(pg_get_serial_sequence('categories', 'id'), max(id)) FROM categories"))


async def main(args: argparse.Namespace) -> None:
    url = async_url(args.database_url)
    if not args.reuse:
        recreate_database(args.database_url)
        await upgrade_to_head(url)
    settings = Settings(database_url=url.render_as_string(hide_password=False), load_defaults=False)
    engine = create_engine(settings.database_url, settings)  # the owner: setup and the SQL yardstick
    app_engine = create_engine(app_url(settings.database_url, settings), settings)  # as the service runs
    sessions = create_sessionmaker(app_engine, settings)
    if not args.reuse:
        with open(args.file, "rb") as catalog:
            started = time.perf_counter()
            report = await import_catalog(UnitOfWork(sessions), TENANT, catalog, source_name=str(args.file))
        print(f"imported {report.loaded:,} movies in {time.perf_counter() - started:.1f} s; phases {report.phases_ms}")
    async with engine.begin() as conn:
        links = await conn.scalar(text(MOVIE_CATEGORY_PAIRS), {"tenant": TENANT})
        movies = await conn.scalar(text("SELECT count(*) FROM movies WHERE tenant = :t"), {"t": TENANT})
        categories = await conn.scalar(text("SELECT count(*) FROM categories"))
        print(f"{movies:,} movies, {links:,} (movie, category) pairs")

    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    # The app's database as the service has it (sessions, read pool, versions), over the app role.
    async with serving(app, app_engine), httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def get(path: str, **params) -> int:
            # The body is not parsed: decoding 5 MB of JSON in the client is no part of the server's time.
            response = await client.get(path, params=params)
            response.raise_for_status()
            return len(response.content)

        async def sql(statement: str, **params):
            async with engine.connect() as conn:
                return (await conn.execute(text(statement), params)).all()

        print(f"\n1. unfiltered report, tenant of {movies:,} movies")
        baseline, _ = await timed(max(1, args.repeat // 3), lambda: sql(LIVE_ROLL_UP, tenant=TENANT))
        seconds, _ = await timed(args.repeat, lambda: get("/categories", tenant=TENANT))
        line("GET /categories?tenant=bench", seconds, 0.1, baseline)

        print("\n2. filtered reports")
        for params in FILTERS:
            seconds, _ = await timed(args.repeat, lambda params=params: get("/categories", tenant=TENANT, **params))
            line(f"GET /categories?tenant=bench&{'&'.join(f'{k}={v}' for k, v in params.items())}", seconds, 1.0)
        await explain(engine, MovieFilters(genre="35", year=2001))

        print("\n3. stored counts == live counts:", await counts_agree(sessions))

        print(f"\n4. tree of {args.tree_nodes:,} more categories, depth {args.tree_depth}")
        if categories < args.tree_nodes:  # --reuse: the tree may be there already
            await add_tree(engine, args.tree_nodes, args.tree_depth)
        baseline, rows = await timed(args.repeat, lambda: sql(FLAT_TREE))
        seconds, _ = await timed(args.repeat, lambda: get("/categories"))
        line(f"GET /categories ({len(rows):,} nodes)", seconds, 0.5, baseline)
        print("   (baseline: the same rows fetched flat, no nesting, no JSON: the floor)")
        recount, _ = await timed(1, lambda: recount_every_tenant(sessions))
        line("recount after a tree change (admin move/delete)", recount)
        seconds, _ = await timed(args.repeat, lambda: get("/categories", tenant=TENANT))
        line(f"GET /categories?tenant=bench ({len(rows):,} nodes)", seconds, 0.5)
        seconds, _ = await timed(args.repeat, lambda: get("/categories", tenant=TENANT, year=2001))
        line(f"GET /categories?tenant=bench&year=2001 ({len(rows):,} nodes)", seconds, 1.0)
        print("   stored counts == live counts:", await counts_agree(sessions))
    await engine.dispose()
    await app_engine.dispose()


async def explain(engine, filters: MovieFilters) -> None:
    async with engine.connect() as conn:
        statement = category_counts(TENANT, conditions=filters.conditions())
        plan = (await conn.execute(ExplainAnalyze(statement))).scalars().all()
    keep = ("Scan", "Join", "Aggregate", "Execution Time", "Planning Time", "Sort", "Nested Loop")
    print("   EXPLAIN ANALYZE (genre=35&year=2001), main nodes:")
    for row in plan:
        if any(word in row for word in keep):
            print("   " + row[:150])


class ExplainAnalyze(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement) -> None:
        self.statement = statement


@compiles(ExplainAnalyze)
def _compile_explain(element, compiler, **kw):
    return "EXPLAIN (ANALYZE, BUFFERS) " + compiler.process(element.statement, **kw)


async def counts_agree(sessions) -> bool:
    async with sessions() as session:
        repository = CategoryRepository(session)
        return await repository.stored_counts(TENANT) == await repository.live_counts(TENANT, [])


async def recount_every_tenant(sessions) -> None:
    async with sessions() as session:
        await CategoryRepository(session).recount_every_tenant()
        await session.commit()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="Scratch database, recreated")
    parser.add_argument("--file", type=Path, help="A catalog CSV (default: generate --rows rows)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="Timings per measurement (median shown)")
    parser.add_argument("--tree-nodes", type=int, default=100_000)
    parser.add_argument("--tree-depth", type=int, default=8)
    parser.add_argument("--reuse", action="store_true", help="Keep the database of the previous run (no import)")
    args = parser.parse_args()
    if "bench" not in (make_url(args.database_url).database or ""):
        parser.error("the database name must contain 'bench'")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.file is None and not arguments.reuse:
        with tempfile.TemporaryDirectory() as directory:
            arguments.file = Path(directory) / "catalog.csv"
            timed_generate(arguments.file, arguments.rows, 1)
            asyncio.run(main(arguments))
    else:
        asyncio.run(main(arguments))
    sys.exit(0)
