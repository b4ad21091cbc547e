"""Benchmark the counts that follow the filters (GET /categories and GET /movies/facets with a
tenant) against a list page on the same mix of filters, served by the project's server.

    uv run python bench/counts.py
    uv run python bench/counts.py --other-src /path/to/another/checkout/src   # that code too, same run

The database named by --database-url is dropped and created again; the server migrates it and
loads the default catalogs (about 25 movies a tenant). wrk then runs --connections connections for
--duration seconds per case, each request with other filters (tenant × year_from × genre, in a
shuffled order), so most requests are first visits of their URL. The list page is the baseline,
measured by the same server in the same run. Needs `wrk` on PATH.

With --tenant, the database is kept as it is (bench/read.py's, say: `--database-url
postgresql://postgres@127.0.0.1:5432/moviemanager_read_bench --tenant big`, 1,000,000 movies) and
the mix is that tenant's: each of the generator's 18 genres × year_from 1950–2025, filters that
match up to 8% of its movies.

With --tree-database-url (a database bench/categories.py left, with its 100,000-node tree), each
server also answers GET /categories (the tree alone, and with the tenant `bench`) from it, one
request at a time, --repeat times (median shown).
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import gen_csv
import httpx
from harness import recreate_database
from read import Served, lua_string, parse_wrk

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/moviemanager_counts_bench"
GENRES = ["", "28", "35", "18", "27", "9648", "10749", "878", "35|18"]
CASES = {"list page (baseline)": "/movies", "GET /categories": "/categories", "GET /movies/facets": "/movies/facets"}


def paths(tenants: list[str], path: str, seed: int) -> list[str]:
    mix = [
        f"{path}?tenant={tenant}&year_from={year}" + (f"&genre={genre}" if genre else "")
        for tenant in tenants
        for year in range(1990, 2026)
        for genre in GENRES
    ]
    random.Random(seed).shuffle(mix)
    return mix


def big_tenant_paths(tenant: str, path: str, seed: int) -> list[str]:
    query = f"{path}?tenant={tenant}&genre={{}}&year_from={{}}"
    mix = [query.format(quote(genre), year) for genre in gen_csv.GENRES for year in range(1950, 2026)]
    random.Random(seed).shuffle(mix)
    return mix


def run_wrk(args: argparse.Namespace, workdir: Path, name: str, url: str, mix: list[str]) -> dict:
    script = workdir / "mix.lua"
    script.write_text(
        "local paths = {" + ",".join(lua_string(p) for p in mix) + "}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\n'
        "end\n"
    )
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "-s", str(script), url]
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    if finished.stderr.strip():
        raise SystemExit(f"wrk failed on {name}: {finished.stderr.strip()}")
    result = {"case": name, **parse_wrk(finished.stdout)}
    return result


def measure(args: argparse.Namespace, workdir: Path, label: str, src: Path | None) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "MOVIEMANAGER_LOG_LEVEL": "warning",
        "MOVIEMANAGER_CURSOR_SECRET": "bench-cursor-secret-not-a-secret",
    }
    if args.tenant:  # a database loaded already: neither migrate it nor add the default catalogs
        env |= {"MOVIEMANAGER_LOAD_DEFAULTS": "false", "MOVIEMANAGER_MIGRATE_ON_START": "false"}
    if src is not None:  # the other checkout's package wins over the installed one
        env["PYTHONPATH"] = str(src)
    if args.skip_mix:
        time_tree(args, workdir, label, env)
        return
    command = ["uv", "run", "--no-sync", "moviemanager", "serve"]
    with Served(command, env, "/healthz", workdir / f"server-{label}.log") as server:
        tenants = [args.tenant] if args.tenant else httpx.get(server.url + "/tenants").json()
        print(f"\n{label} ({src or PROJECT_ROOT / 'src'}): tenants {', '.join(tenants)}", flush=True)
        baseline = None
        for seed, (name, path) in enumerate(CASES.items()):
            mix = big_tenant_paths(args.tenant, path, seed) if args.tenant else paths(tenants, path, seed)
            result = run_wrk(args, workdir, name, server.url, mix)
            baseline = baseline or result["rps"]
            print(
                f"  {name:<22} {result['rps']:8,.0f} req/s  p50 {result['p50_ms']:6.1f} ms  "
                f"p99 {result['p99_ms']:6.1f} ms  {result['rps'] / baseline:5.2f}x the list page"
                f"  ({len(mix):,} URLs, {result['errors']} errors)",
                flush=True,
            )
    if args.tree_database_url:
        time_tree(args, workdir, label, env)


def time_tree(args: argparse.Namespace, workdir: Path, label: str, env: dict[str, str]) -> None:
    env = {**env, "DATABASE_URL": args.tree_database_url, "MOVIEMANAGER_LOAD_DEFAULTS": "false"}
    command = ["uv", "run", "--no-sync", "moviemanager", "serve"]
    with Served(command, env, "/healthz", workdir / f"tree-{label}.log") as server:
        for params in ({}, {"tenant": "bench"}):
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = httpx.get(server.url + "/categories", params=params, timeout=60)
                response.raise_for_status()
                times.append(time.perf_counter() - started)
            shown = "?tenant=bench" if params else ""
            print(
                f"  GET /categories{shown:<14} {statistics.median(times) * 1000:8.1f} ms"
                f"  ({len(response.content):,} bytes)",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="Scratch database, recreated")
    parser.add_argument("--duration", type=int, default=20, help="Seconds per case (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default: %(default)s)")
    parser.add_argument("--tenant", help="Measure this tenant of --database-url, kept as it is (see above)")
    parser.add_argument("--other-src", type=Path, help="Another checkout's src/, measured first in the same run")
    parser.add_argument("--tree-database-url", help="A database with a big category tree (bench/categories.py)")
    parser.add_argument("--repeat", type=int, default=5, help="Requests per tree timing (default: %(default)s)")
    parser.add_argument("--skip-mix", action="store_true", help="Only the tree timings")
    args = parser.parse_args()
    recreate = not (args.skip_mix or args.tenant)
    if recreate:
        recreate_database(args.database_url)
    with tempfile.TemporaryDirectory() as workdir:
        if args.other_src is not None:
            measure(args, Path(workdir), "other", args.other_src)
            if recreate:
                recreate_database(args.database_url)
        measure(args, Path(workdir), "this checkout", None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
