"""Benchmark first visits (list pages and movies no one asked for before) against a plain JSONB endpoint,
in one run.

    uv run python bench/first_visits.py                        # load 1,000,000 movies, then measure
    uv run python bench/first_visits.py --reuse --duration 20  # the database of an earlier run

The database is bench/read.py's (same --database-url, loaded the same way: tenant `big` of --rows
generated movies); this benchmark adds `plain_movies`, the same documents in the plain design that
bench/first_visit_baseline.py queries. Needs `wrk` and psql on PATH.

Both servers run as one uvicorn worker with a pool of 10 connections; ours with
MOVIEMANAGER_PAGE_CACHE_MB=0, so that every request runs its statement as a first visit does (the
URLs of a run are distinct anyway, as first visits are). wrk (one thread, --connections
connections, on the same cores) takes each request's path from a shuffled list. Mixes:

  filters   genre (each of the generator's 18) × year (1950–2026) × rating_gte (0.0–9.0 by 0.5),
            20 movies a page: the same URL for both servers
  broad     six kinds in turn: genre with a year range sorted by -rating; rating_gte and runtime_lte
            sorted by year or -year; a category (plain: any of its subtree's genres) from a year;
            genre with year_from, page 2 (ours: by the next link's cursor; plain: offset 20);
            type-ahead of a title (ours: q=nguoi gac d, as typed without accents; plain: a piece
            of the title, ILIKE on the trigram index), from a year; genre and year sorted by -year
  detail    GET /movies/{tmdb_id}, random ids of `big`

Each mix runs --rounds times, plain then ours, on fresh server processes; every round prints
requests/s, p50 and p99 of both and ours ÷ plain. The plain endpoint's requests still unanswered
after 10 s are counted (t/o), not fatal, and left out of its percentiles (as wrk does); any
failed request of ours stops the run.
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
import unicodedata
from pathlib import Path

import gen_csv
import httpx
from harness import psql
from read import BIG, DEFAULT_DATABASE_URL, Served, load, run_wrk, server_env

YEARS = range(1950, 2027)
RATINGS = [f"{tenths / 10:.1f}" for tenths in range(0, 91, 5)]
PLAIN_TABLE = [
    "DROP TABLE IF EXISTS plain_movies",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE TABLE plain_movies AS SELECT tenant, tmdb_id, data - 'genre_keys' AS data FROM movies"
    f" WHERE tenant = '{BIG}'",
    "ALTER TABLE plain_movies ADD PRIMARY KEY (tenant, tmdb_id)",
    "CREATE INDEX plain_movies_data ON plain_movies USING gin (data jsonb_path_ops)",
    "CREATE INDEX plain_movies_title ON plain_movies USING gin ((data ->> 'title') gin_trgm_ops)",
    "VACUUM ANALYZE plain_movies",
]
# Each category's id and the names (as the generator writes them) of the genres that put a movie in
# its subtree.
CATEGORY_GENRES = """
    WITH RECURSIVE subtree(root, id) AS (
        SELECT id, id FROM categories
        UNION ALL
        SELECT subtree.root, categories.id FROM categories JOIN subtree ON categories.parent_id = subtree.id
    )
    SELECT subtree.root, string_agg(DISTINCT genres.name_vi, '|')
    FROM subtree
    JOIN genre_categories ON genre_categories.category_id = subtree.id
    JOIN genres ON genres.id = genre_categories.genre_id
    GROUP BY subtree.root"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--rows", type=int, default=1_000_000, help="Movies of tenant big (default: %(default)s)")
    parser.add_argument("--duration", type=int, default=20, help="Seconds per run (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="Plain/ours pairs per mix (default: %(default)s)")
    parser.add_argument("--only", help="Comma-separated mixes to run (filters, broad, detail)")
    parser.add_argument("--reuse", action="store_true", help="Keep the database and its tenants as they are")
    parser.add_argument("--json", type=Path, help="Also write the results as JSON to this path")
    args = parser.parse_args()
    args.second_rows = 1_000  # read.load's second tenant, which no mix here reads
    with tempfile.TemporaryDirectory(prefix="first-visits-") as workdir:
        if not args.reuse:
            load(args, Path(workdir))
        if not args.reuse or psql(args.database_url, "SELECT to_regclass('plain_movies')") == "":
            print("building plain_movies", flush=True)
            psql(args.database_url, *PLAIN_TABLE)
        results = measure(args, Path(workdir))
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


def measure(args: argparse.Namespace, workdir: Path) -> list[dict]:
    env = server_env(args)
    ours_env = {**env, "MOVIEMANAGER_PAGE_CACHE_MB": "0"}
    ids = psql(args.database_url, f"SELECT tmdb_id FROM movies WHERE tenant = '{BIG}' ORDER BY random() LIMIT 50000")
    id_list = ids.split()
    uvicorn = ["uv", "run", "--no-sync", "uvicorn", "--app-dir", "bench", "--log-level", "warning", "--no-access-log"]
    plain_command = [*uvicorn, "first_visit_baseline:app"]
    ours_command = ["uv", "run", "--no-sync", "moviemanager", "serve"]
    health = f"/movies/{id_list[0]}"
    wanted = args.only.split(",") if args.only else ["filters", "broad", "detail"]
    mixes: dict[str, list[tuple[str, str]]] = {}
    if "filters" in wanted:
        mixes["filters"] = filters_mix()
    if "broad" in wanted:
        with Served(ours_command, ours_env, "/healthz", workdir / "ours_setup.log") as ours:
            mixes["broad"] = broad_mix(args.database_url, ours.url)
    if "detail" in wanted:
        mixes["detail"] = [(f"/movies/{tmdb_id}",) * 2 for tmdb_id in id_list]
    results = []
    for name, pairs in mixes.items():
        for round_number in range(1, args.rounds + 1):
            # Each round starts at its own place in the list, so no server sees a URL twice.
            start = (round_number - 1) * len(pairs) // args.rounds
            rotated = pairs[start:] + pairs[:start]
            row = {"mix": name, "round": round_number}
            for side, command, side_env, paths in (
                ("plain", plain_command, env, [plain for _, plain in rotated]),
                ("ours", ours_command, ours_env, [own for own, _ in rotated]),
            ):
                with Served(command, side_env, health, workdir / f"{side}.log") as server:
                    label = f"{name} {side} {round_number}"
                    # The plain endpoint may leave requests unanswered for 10 s: counted, not fatal.
                    row[side] = run_wrk(args, workdir, label, server.url, paths=paths, timeouts_ok=side == "plain")
            row["ratio"] = row["ours"]["rps"] / row["plain"]["rps"]
            print(f"{name} round {round_number}: ours ÷ plain {row['ratio']:.2f}", flush=True)
            results.append(row)
    return results


def filters_mix() -> list[tuple[str, str]]:
    """The same URL for both: genre × year × rating_gte, shuffled."""
    paths = [
        listing(genre=genre, year=year, rating_gte=rating)
        for genre in gen_csv.GENRES
        for year in YEARS
        for rating in RATINGS
    ]
    random.Random(1).shuffle(paths)
    return [(path, path) for path in paths]


def broad_mix(database_url: str, ours_url: str) -> list[tuple[str, str]]:
    """(ours, plain) paths of six kinds, taken in turn, each kind shuffled."""
    rng = random.Random(2)
    categories = [line.split("|", 1) for line in psql(database_url, CATEGORY_GENRES).splitlines()]
    kinds: list[list[tuple[str, str]]] = []
    ranges = [
        listing(genre=genre, year_from=year, year_to=year + span, sort="-rating")
        for genre in gen_csv.GENRES
        for year in YEARS
        for span in (2, 5, 10)
    ]
    kinds.append([(path, path) for path in ranges])
    numbers = [
        listing(rating_gte=rating, runtime_lte=runtime, sort=sort)
        for rating in RATINGS
        for runtime in range(60, 181, 5)
        for sort in ("year", "-year")
    ]
    kinds.append([(path, path) for path in numbers])
    kinds.append(
        [
            (listing(category=category, year_from=year), listing(genre=genres, year_from=year))
            for category, genres in categories
            for year in YEARS
        ]
    )
    kinds.append(second_pages(ours_url, rng))
    kinds.append(type_ahead(rng))
    by_year = [listing(genre=genre, year=year, sort="-year") for genre in gen_csv.GENRES for year in YEARS]
    kinds.append([(path, path) for path in by_year])
    for kind in kinds:
        rng.shuffle(kind)
    longest = max(map(len, kinds))
    return [kind[i % len(kind)] for i in range(longest) for kind in kinds]


def second_pages(ours_url: str, rng: random.Random, count: int = 1500) -> list[tuple[str, str]]:
    """Page 2 of genre-from-a-year listings: ours by the cursor of page 1's next link, plain by offset."""
    pairs = []
    with httpx.Client(base_url=ours_url, headers={"X-Tenant": BIG}, timeout=60) as client:
        for _ in range(count):
            genre, year = rng.choice(gen_csv.GENRES), rng.choice(YEARS)
            first = listing(genre=genre, year_from=year, sort="-rating")
            link = client.get(first).headers.get("Link", "")
            if 'rel="next"' not in link:
                continue
            url = httpx.URL(link[1 : link.index(">")])
            pairs.append((f"{url.raw_path.decode()}", listing(genre=genre, year_from=year, sort="-rating", offset=20)))
    return pairs


def type_ahead(rng: random.Random) -> list[tuple[str, str]]:
    """A title typed up to a point: ours as typed without accents, plain as written (ILIKE)."""
    pairs = []
    for title, _ in gen_csv.TITLES:
        for cut in range(3, len(title) + 1, 2):
            typed = title[:cut].rstrip()
            year = rng.choice(YEARS)
            pairs.append((listing(q=without_accents(typed).lower(), year_from=year), listing(q=typed, year_from=year)))
    return pairs


def without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def listing(**params: object) -> str:
    url = httpx.URL("/movies", params={**params, "limit": 20})
    return url.raw_path.decode()


def print_table(results: list[dict]) -> None:
    heading = f"{'plain req/s':>11} {'p50':>6} {'p99':>6} {'t/o':>4} {'ours req/s':>10} {'p50':>6} {'p99':>6} {'÷':>5}"
    print(f"\n{'mix':<8} {'round':>5} {heading}")
    for row in results:
        plain, ours = row["plain"], row["ours"]
        print(
            f"{row['mix']:<8} {row['round']:>5} {plain['rps']:>11,.0f} {plain['p50_ms']:>6.0f} {plain['p99_ms']:>6.0f}"
            f" {plain['timeouts']:>4}"
            f" {ours['rps']:>10,.0f} {ours['p50_ms']:>6.0f} {ours['p99_ms']:>6.0f} {row['ratio']:>5.2f}"
        )
    for mix in dict.fromkeys(row["mix"] for row in results):
        ratios = [row["ratio"] for row in results if row["mix"] == mix]
        print(f"{mix}: ours ÷ plain, median of {len(ratios)}: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    sys.exit(main())
