"""Benchmark reads (GET /movies and GET /movies/{tmdb_id}) against a raw-asyncpg yardstick, in one run.

    uv run python bench/read.py                       # generate, load, measure (30 s per case)
    uv run python bench/read.py --reuse --duration 10 # data already loaded by a previous run

The database named by --database-url (default postgresql://postgres@127.0.0.1:5432/moviemanager_read_bench)
is dropped and created again unless --reuse; its name must contain "bench". It gets two tenants: `big`
(--rows generated movies, seed 1) and `second` (--second-rows, seed 2), loaded with `moviemanager load`.
Needs `wrk` (Debian: apt-get install wrk) and psql on PATH.

Both servers run as one uvicorn worker (uvloop, httptools), with a pool of 10 connections. wrk runs with
one thread and --connections connections on the same 2 cores, so it takes CPU from the server it measures:
the ratios compare servers under the same handicap. Cases:

  baseline   bench/read_baseline.py: GET /movies/{tmdb_id}, 1,000 ids in rotation, as a bare ASGI callable
             (the physical limit of a Python endpoint here)
  baseline FastAPI
             bench/read_baseline_fastapi.py: the same as a minimal FastAPI endpoint over asyncpg, the
             yardstick of the issue's "Why" (its ratio is the second column)
  detail     ours, the same requests
  304        ours, GET /movies?genre=…&year=…&limit=20 with If-None-Match: the current ETag
  genre+year, genre+year -rating, genre -rating, search (q=nguoi gac den song h: type-ahead of one of
  the generator's 1,152 titles), page 50 (genre, -rating, by cursor), second tenant (first page): the
  list cases of issue 6, 20 movies a page

Our cases run twice: as deployed, and "uncached" (MOVIEMANAGER_PAGE_CACHE_MB=0), where every request
runs its query as a first visit to a page does. Each case reports requests/s, its ratio to each
baseline's, p50 and p99 (wrk --latency), and the plan of its query (EXPLAIN ANALYZE on the same
database as the app role, summarised: the movies' nodes, indexes, rows; the statement's time).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from catalog_files import timed_generate
from harness import psql, recreate_database
from read_plans import explain_case
from server_process import PROJECT_ROOT, free_port

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/moviemanager_read_bench"
GENRE, YEAR, QUERY = "Phim Hành Động", 2001, "nguoi gac den song h"
BIG, SECOND = "big", "second"
CURSOR_SECRET = "read-bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--rows", type=int, default=1_000_000, help="Movies of tenant big (default: %(default)s)")
    parser.add_argument("--second-rows", type=int, default=100_000, help="Movies of tenant second")
    parser.add_argument("--duration", type=int, default=30, help="Seconds per case (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default: %(default)s)")
    parser.add_argument("--reuse", action="store_true", help="Keep the database and its tenants as they are")
    parser.add_argument("--only", help="Comma-separated case names to run (the baseline always runs)")
    parser.add_argument("--json", type=Path, help="Also write the results as JSON to this path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="read-bench-") as workdir:
        if not args.reuse:
            load(args, Path(workdir))
        results = measure(args, Path(workdir))
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


def load(args: argparse.Namespace, workdir: Path) -> None:
    recreate_database(args.database_url)
    env = server_env(args)
    subprocess.run(["uv", "run", "--no-sync", "moviemanager", "migrate"], cwd=PROJECT_ROOT, env=env, check=True)
    for tenant, rows, seed in ((BIG, args.rows, 1), (SECOND, args.second_rows, 2)):
        path = timed_generate(workdir / f"{tenant}.csv", rows, seed)
        started = time.perf_counter()
        command = ["uv", "run", "--no-sync", "moviemanager", "load", tenant, str(path), "--quiet"]
        subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"loaded {tenant}: {rows:,} movies in {time.perf_counter() - started:.1f} s", flush=True)
        path.unlink()
    psql(args.database_url, "VACUUM ANALYZE")  # visibility map for index-only scans, fresh statistics


def server_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "MOVIEMANAGER_LOAD_DEFAULTS": "false",
        "MOVIEMANAGER_MIGRATE_ON_START": "false",
        "MOVIEMANAGER_LOG_LEVEL": "warning",
        "MOVIEMANAGER_CURSOR_SECRET": CURSOR_SECRET,
    }


class Served:
    """A server subprocess on a free port, healthy on entry, stopped on exit."""

    def __init__(self, command: list[str], env: dict[str, str], health_path: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command, self.env, self.health_path, self.log = [*command, "--port", str(self.port)], env, health_path, log

    def __enter__(self) -> "Served":
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + self.health_path, headers={"X-Tenant": BIG}).status_code < 500:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"{self.command} did not start: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc_info: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def measure(args: argparse.Namespace, workdir: Path) -> list[dict]:
    env = server_env(args)
    ids = psql(args.database_url, f"SELECT tmdb_id FROM movies WHERE tenant = '{BIG}' ORDER BY random() LIMIT 1000")
    id_list = ids.split()
    baseline_command = ["uv", "run", "--no-sync", "uvicorn", "read_baseline:app", "--app-dir", "bench"]
    baseline_command += ["--log-level", "warning", "--no-access-log"]
    results = []
    with Served(baseline_command, env, f"/movies/{id_list[0]}", workdir / "baseline.log") as baseline:
        results.append(run_wrk(args, workdir, "baseline", baseline.url, ids=id_list))
    fastapi_command = [*baseline_command[:4], "read_baseline_fastapi:app", *baseline_command[5:]]
    with Served(fastapi_command, env, f"/movies/{id_list[0]}", workdir / "baseline_fastapi.log") as baseline:
        results.append(run_wrk(args, workdir, "baseline FastAPI", baseline.url, ids=id_list))
    ours_command = ["uv", "run", "--no-sync", "moviemanager", "serve"]
    # As deployed, then with no page cache: every request runs its query (the cost of a first visit).
    for suffix, extra_env in (("", {}), (" uncached", {"MOVIEMANAGER_PAGE_CACHE_MB": "0"})):
        with Served(ours_command, {**env, **extra_env}, "/healthz", workdir / f"ours{suffix}.log") as ours:
            for name, url, headers, plan in cases(ours.url, id_list):
                if (args.only and name not in args.only.split(",")) or (suffix and name == "304"):
                    continue
                ids = id_list if name == "detail" else None
                result = run_wrk(args, workdir, name + suffix, url, headers=headers, ids=ids)
                result["plan"] = explain_case(args.database_url, CURSOR_SECRET, plan)
                if name == "304":  # the version is in memory (tenants/versions.py)
                    result["plan"] = f"no query; with the listener off: {result['plan']}"
                results.append(result)
    return results


def cases(base: str, ids: list[str]) -> list[tuple[str, str, dict[str, str], dict]]:
    """(name, URL, headers, what to EXPLAIN) of every case of ours; fetches the 304's ETag and page 50."""
    big = {"X-Tenant": BIG}

    def listing(**params) -> str:
        return str(httpx.URL(f"{base}/movies", params={**params, "limit": 20}))

    genre_year = listing(genre=GENRE, year=YEAR)
    etag = httpx.get(genre_year, headers=big).headers["ETag"]
    page_url = listing(genre=GENRE, sort="-rating")
    for _ in range(49):
        link = httpx.get(page_url, headers=big).headers["Link"]
        page_url = link[1 : link.index(">")]
    filters = {"genre": GENRE, "year": YEAR}
    return [
        ("detail", f"{base}/movies/{ids[0]}", big, {"tenant": BIG, "tmdb_id": int(ids[0])}),
        ("304", genre_year, {**big, "If-None-Match": etag}, {"tenant": BIG, "data_version": True}),
        ("genre+year", genre_year, big, {"tenant": BIG, "filters": filters}),
        (
            "genre+year -rating",
            listing(genre=GENRE, year=YEAR, sort="-rating"),
            big,
            {"tenant": BIG, "filters": filters, "sort": "-rating"},
        ),
        (
            "genre -rating",
            listing(genre=GENRE, sort="-rating"),
            big,
            {"tenant": BIG, "filters": {"genre": GENRE}} | {"sort": "-rating"},
        ),
        ("search", listing(q=QUERY), big, {"tenant": BIG, "q": QUERY}),
        (
            "page 50 (cursor)",
            page_url,
            big,
            {"tenant": BIG, "filters": {"genre": GENRE}, "sort": "-rating"} | {"cursor_url": page_url},
        ),
        ("second tenant", listing(), {"X-Tenant": SECOND}, {"tenant": SECOND}),
    ]


def run_wrk(args, workdir: Path, name: str, url: str, *, headers=None, ids=None, paths=None, timeouts_ok=False) -> dict:
    """wrk on one URL, or on /movies/<id> for each of `ids` in turn, or on each of `paths` in turn
    (every connection takes the next one); requests/s and latency percentiles. Any failed request
    stops the run, but with `timeouts_ok` requests unanswered after 10 s (counted in "timeouts")."""
    headers = headers or {"X-Tenant": BIG}
    lines = [f"wrk.headers[ {lua_string(key)} ] = {lua_string(value)}" for key, value in headers.items()]
    if ids:
        paths = [f"/movies/{tmdb_id}" for tmdb_id in ids]
    if paths:
        lines += [
            "local paths = {" + ",".join(map(lua_string, paths)) + "}",
            "local i = 0",
            "request = function()",
            "  i = i % #paths + 1",
            '  return wrk.format("GET", paths[i])',
            "end",
        ]
    script = workdir / f"{name.replace(' ', '_')}.lua"
    script.write_text("\n".join(lines) + "\n")
    # A 10 s timeout, not wrk's 2 s: a slow answer is a latency to report, not a failed request.
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--timeout", "10s", "--latency"]
    command += ["-s", str(script), url]
    print(f"--- {name}: {url}", flush=True)
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    if finished.stderr.strip():  # wrk runs on after a script error, without the script's headers
        raise SystemExit(f"wrk failed on {name}: {finished.stderr.strip()}")
    result = {"case": name, "url": url, **parse_wrk(finished.stdout)}
    if result["errors"] - (result["timeouts"] if timeouts_ok else 0):
        raise SystemExit(
            f"{name}: {result['errors']} requests failed (an answer other than 2xx or 3xx, or a socket error)"
        )
    print(f"{result['rps']:,.0f} req/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms", flush=True)
    return result


def lua_string(text: str) -> str:
    """`text` as a Lua string literal (a long bracket: ETags are quoted)."""
    assert "]==]" not in text
    return f"[==[{text}]==]"


def parse_wrk(output: str) -> dict:
    figures: dict = {"errors": 0, "timeouts": 0}
    for line in output.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            figures["rps"] = float(parts[1])
        elif parts[:1] in (["50%"], ["99%"]):
            figures[f"p{parts[0][:-1]}_ms"] = to_ms(parts[1])
        elif line.strip().startswith(("Non-2xx", "Socket errors")):
            figures["errors"] += sum(int(x.rstrip(",")) for x in parts if x.rstrip(",").isdigit())
            if "timeout" in parts:
                figures["timeouts"] = int(parts[parts.index("timeout") + 1])
    return figures


def to_ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    raise ValueError(text)


def print_table(results: list[dict]) -> None:
    bare = next(r["rps"] for r in results if r["case"] == "baseline")
    fastapi = next(r["rps"] for r in results if r["case"] == "baseline FastAPI")
    print(f"\n{'case':<20} {'req/s':>8} {'÷ base':>7} {'÷ FastAPI':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}  plan")
    for r in results:
        plan = r.get("plan", "raw asyncpg: SELECT data::text … WHERE tenant = $1 AND tmdb_id = $2")
        print(
            f"{r['case']:<20} {r['rps']:>8,.0f} {r['rps'] / bare:>7.2f} {r['rps'] / fastapi:>9.2f} {r['p50_ms']:>7.1f}"
            f" {r['p99_ms']:>7.1f} {r['errors']:>6}  {plan}"
        )


if __name__ == "__main__":
    sys.exit(main())
