"""Benchmark catalog imports against one PostgreSQL, in one run, and print figures and ratios.

    uv run python bench/import.py --rows 1000000
    uv run python bench/import.py --rows 20000 --orm-rows 5000 --json /tmp/bench.json
    uv run python bench/import.py --file /tmp/movies_1m.csv --skip orm,core

The database named by --database-url (default postgresql://postgres@127.0.0.1:5432/moviemanager_bench) is
dropped and created again at the start, so every run begins empty; its name must contain "bench". psql must
be on PATH. Without --file, a catalog of --rows rows is generated with bench/gen_csv.py into a temporary
directory (deleted at the end). The machine is shared and noisy: compare the ratios within one run, not
absolute figures across runs.

Cases (rows/s of each is compared with (a)'s):

  (a) baseline   psql `\\copy` of the CSV into a staging table of text columns, then one INSERT … SELECT
                 building a JSONB document per row into baseline_movies(tenant, tmdb_id, data), which has
                 a unique (tenant, tmdb_id) index and a GIN (data jsonb_path_ops) index. The floor: no
                 validation, PostgreSQL does all the work.
  (b) orm        The seed's way: Python's csv module, SQLAlchemy ORM objects, session.add_all, one commit,
                 into a table of the same shape and indexes. Slow, so only on the first --orm-rows rows.
  (c) core       Python's csv module, SQLAlchemy Core conn.execute(insert(table), dicts) in batches of
                 10,000 over asyncpg, one transaction, same table shape, on every row of the file.
  (d) http       The project's server (`moviemanager serve`, a subprocess), fresh twice. The first reloads
                 a prefix of --small-rows rows (default 100,000) and its peak RSS (VmHWM of the Python
                 process) is read; it then loads the reader tenant bench_reader (--reader-rows rows of
                 another seed). The second gets POST /reload?tenant=bench with the whole file as multipart
                 field `file`, timed from request start to response, while a thread lists bench_reader
                 and records latencies; then the same file again, replacing the set. Its peak RSS is
                 compared with the first server's.
  (e) cli        `moviemanager load bench_cli FILE`, timed, with the peak RSS of the process tree.

After (d), once that server has stopped (so its backends flushed their statistics), n_dead_tup is summed
over the tables named movies* in pg_stat_user_tables: the VACUUM debt the replacing reload left behind.
"""

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

# The helpers sit next to this script, and Python puts a script's folder first on sys.path.
from catalog_files import count_rows, timed_generate
from harness import Bench, CaseResult, fmt_ms, mib, psql, recreate_database
from moviemanager_cases import READER_TENANT, run_cli, run_http
from reference_cases import run_baseline, run_core, run_orm
from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/moviemanager_bench"
CASES = ("baseline", "orm", "core", "http", "cli")


# ---------------------------------------------------------------- running and reporting


def run_case(bench: Bench, name: str, label: str, runner: Callable[[Bench], CaseResult | list[CaseResult]]) -> None:
    """Run one case; a failure is recorded as a result, and the other cases still run."""
    print(f"--- {name}", flush=True)
    try:
        outcome = runner(bench)
    except Exception as exc:  # any failure is reported in the table
        message = str(exc) or repr(exc)
        print(f"{name} failed: {first_line(message)}", flush=True)
        bench.results.append(CaseResult(label, bench.rows, error=message))
        return
    bench.results.extend(outcome if isinstance(outcome, list) else [outcome])


RUNNERS = {
    "baseline": ("(a) baseline: psql \\copy + INSERT…SELECT", run_baseline),
    "orm": ("(b) seed ORM: csv + session.add_all", run_orm),
    "core": ("(c) Core executemany (asyncpg)", run_core),
    "http": ("(d) ours HTTP", run_http),
    "cli": ("(e) ours CLI: moviemanager load", run_cli),
}


def ratio(value: float | None, reference: float | None) -> float | None:
    return value / reference if value and reference else None


def print_report(bench: Bench) -> None:
    baseline_rate = next((r.rows_per_second for r in bench.results if r.name.startswith("(a)")), None)
    print()
    print(f"{'case':<42} {'rows':>10} {'seconds':>9} {'rows/s':>10} {'÷ (a)':>7}  notes")
    for result in bench.results:
        if result.error is not None:
            print(f"{result.name:<42} {'':>10} {'':>9} {'':>10} {'':>7}  failed: {first_line(result.error)}")
            continue
        share = ratio(result.rows_per_second, baseline_rate)
        print(
            f"{result.name:<42} {result.rows:>10,} {result.seconds:>9.2f} {result.rows_per_second:>10,.0f} "
            f"{'n/a' if share is None else f'{share:.3f}':>7}  {result.notes}"
        )
    print_figures(bench)
    for result in bench.results:
        if result.error is not None and "\n" in result.error:
            print(f"\n{result.name} failed:\n{result.error}")


def print_figures(bench: Bench) -> None:
    figures = bench.figures
    print()
    if "server_peak_rss_kib" in figures:
        big, small = figures["server_peak_rss_kib"], figures.get("server_small_peak_rss_kib")
        share = ratio(big, small)
        print(f"server idle RSS after start:                  {mib(figures.get('server_idle_rss_kib'))}")
        print(f"server peak RSS, reloads of {bench.rows:>10,} rows: {mib(big)}")
        print(f"server peak RSS, reload of  {bench.small_rows:>10,} rows: {mib(small)}")
        print(f"ratio big/small peak RSS:                     {'n/a' if share is None else f'{share:.2f}'}")
        idle = figures.get("server_idle_rss_kib")
        if idle and big and small:
            growth = ratio(big - idle, small - idle)
            print(
                f"ratio big/small growth above idle RSS:         {'n/a' if growth is None else f'{growth:.2f}'} "
                f"({mib(big - idle)} / {mib(small - idle)})"
            )
    if "cli_peak_rss_kib" in figures:
        print(f"CLI peak RSS ({bench.rows:,} rows):                 {mib(figures['cli_peak_rss_kib'])}")
    for result in bench.results:
        reads = result.details.get("reads")
        if reads:
            print(
                f"reads of {READER_TENANT} during '{result.name}': {reads['requests']} requests, "
                f"{reads['failures']} failed, p50 {fmt_ms(reads['p50_ms'])}, p99 {fmt_ms(reads['p99_ms'])}, "
                f"max {fmt_ms(reads['max_ms'])}"
            )
    debt = figures.get("vacuum_debt")
    if debt:
        print(
            f"VACUUM debt after the replacing reload: n_dead_tup {debt['n_dead_tup']:,} "
            f"(n_live_tup {debt['n_live_tup']:,}; tables: {debt['tables'] or 'none'}; "
            f"last autovacuum: {debt['last_autovacuum']})"
        )


def first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else ""


def write_json(bench: Bench, path: Path) -> None:
    baseline_rate = next((r.rows_per_second for r in bench.results if r.name.startswith("(a)")), None)
    cases = [
        {**asdict(r), "rows_per_second": r.rows_per_second, "ratio_to_a": ratio(r.rows_per_second, baseline_rate)}
        for r in bench.results
    ]
    document = {
        "rows": bench.rows,
        "small_rows": bench.small_rows,
        "file": str(bench.catalog),
        "file_bytes": bench.catalog.stat().st_size,
        "cpus": os.cpu_count(),
        "cases": cases,
        "figures": bench.figures,
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {path}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="Scratch database, recreated")
    parser.add_argument("--rows", type=int, default=1_000_000, help="Rows to generate (default: %(default)s)")
    parser.add_argument("--file", type=Path, help="Reuse this catalog instead of generating one")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the generated catalogs (default: %(default)s)")
    parser.add_argument("--skip", default="", help=f"Comma-separated cases to skip, of: {', '.join(CASES)}")
    parser.add_argument("--orm-rows", type=int, default=100_000, help="Rows for the ORM case (default: %(default)s)")
    parser.add_argument("--reader-rows", type=int, default=100_000, help="Rows of the reader tenant")
    parser.add_argument(
        "--small-rows", type=int, help="Prefix reloaded on a fresh server for peak RSS (default: 100000, or rows/10)"
    )
    parser.add_argument("--reader-pause", type=float, default=0.05, help="Seconds between reads (default: 0.05)")
    parser.add_argument("--json", type=Path, help="Also write the results as JSON to this path")
    args = parser.parse_args(argv)
    unknown = set(filter(None, args.skip.split(","))) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) in --skip: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    skipped = set(filter(None, args.skip.split(",")))
    with tempfile.TemporaryDirectory(prefix="moviemanager-bench-") as temporary:
        workdir = Path(temporary)
        if args.file:
            catalog = args.file.resolve()
            rows = count_rows(catalog)
        else:
            catalog = timed_generate(workdir / f"movies_{args.rows}.csv", args.rows, args.seed)
            rows = args.rows
        sql_url = make_url(args.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        bench = Bench(args, sql_url, workdir, catalog, rows)
        size = catalog.stat().st_size
        print(f"catalog {catalog}: {rows:,} rows, {size / 1e6:,.0f} MB ({size / rows:.0f} bytes/row)", flush=True)
        recreate_database(sql_url)
        print(f"PostgreSQL: {psql(sql_url, 'SHOW server_version')}, {os.cpu_count()} CPUs here", flush=True)
        for name, (label, runner) in RUNNERS.items():
            if name not in skipped:
                run_case(bench, name, label, runner)
        print_report(bench)
        if args.json:
            write_json(bench, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
