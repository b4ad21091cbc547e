"""Benchmark first-visit reads with 1 and 2 worker processes, and reads during a big import served by
the primary or by a streaming standby, with the standby's lag; in one run.

    uv run python bench/scale.py                                  # 200,000 movies, a 500,000-row import
    uv run python bench/scale.py --rows 1000000 --import-rows 1000000 --duration 30 --json /tmp/scale.json

The run starts PostgreSQL of its own (the embedded server, in a temporary directory), creates the
database, migrates it and loads tenant `big` (--rows generated movies, seed 1) with `moviemanager load`.
Needs `wrk` and psql on PATH. Every server runs with MOVIEMANAGER_PAGE_CACHE_MB=0 and the reads cycle
through distinct URLs (genre × year × rating_gte × sort, 20 movies a page): every request runs its
query, as a first visit does. wrk runs with one thread and --connections connections on the same cores.

  reads, N workers   `moviemanager serve --workers N` for each N of --workers in turn (1,2,1,2: two pairs):
                     requests/s, p50, p99, each run's requests/s against the last run with the first N
  during import      one worker; wrk reads `big` (paced: --import-connections connections, each pausing
                     --import-delay-ms between requests, so the import is not starved) while POST /reload
                     imports --import-rows movies (seed 2) into a new tenant, once with no replica
                     configured (the primary answers), once with MOVIEMANAGER_READ_REPLICA_URLS naming a
                     pg_basebackup standby of the primary. The standby runs and replays in both, so both
                     have the same load on the machine.
  lag                sampled every second during each import: on the primary, pg_stat_replication's
                     replay_lag and the bytes of WAL the standby has not replayed; with the replica
                     configured, also the server's moviemanager_replica_lag_seconds and whether the
                     standby was taking reads (moviemanager_replica_serving)
"""

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from catalog_files import timed_generate
from gen_csv import GENRES
from read import BIG, Served, lua_string, parse_wrk
from scale_servers import Primary, Standby, libpq
from server_process import BENCH_ADMIN_TOKEN, PROJECT_ROOT

DATABASE = "moviemanager_scale_bench"
CATCH_UP_TIMEOUT = 120.0
LAG_QUERY = (
    "SELECT coalesce(extract(epoch FROM replay_lag), 0), pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)"
    " FROM pg_stat_replication LIMIT 1"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="Movies of tenant big (default: %(default)s)")
    parser.add_argument("--import-rows", type=int, default=500_000, help="Rows of the import (default: %(default)s)")
    parser.add_argument("--duration", type=int, default=20, help="Seconds per read case (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default: %(default)s)")
    parser.add_argument("--import-connections", type=int, default=4, help="wrk connections during the imports")
    parser.add_argument(
        "--import-delay-ms", type=int, default=20, help="Pause of each connection between reads during the imports"
    )
    parser.add_argument("--workers", default="1,2", help="Worker counts to compare (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="Also write the results as JSON to this path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        results = run(args, Path(tmp))
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


def run(args: argparse.Namespace, workdir: Path) -> dict:
    primary = Primary(workdir)
    server_url = primary.start()
    try:
        subprocess.run(["psql", libpq(server_url), "-X", "-q", "-c", f'CREATE DATABASE "{DATABASE}"'], check=True)
        database_url = server_url.set(database=DATABASE)
        env = server_env(libpq(database_url))
        load(args, workdir, env, libpq(database_url))
        urls = read_urls()
        results: dict = {"arguments": vars(args) | {"json": str(args.json)}, "reads": [], "during_import": []}
        for workers in (int(n) for n in args.workers.split(",")):
            command = ["uv", "run", "--no-sync", "moviemanager", "serve", "--workers", str(workers)]
            with Served(command, env, "/healthz", workdir / f"serve{workers}.log") as served:
                reads = start_wrk(workdir, served.url, urls, args.duration, args.connections)
                result = finish_wrk(f"{workers} worker(s)", reads)
            results["reads"].append({"workers": workers, **result})
        import_file = timed_generate(workdir / "import.csv", args.import_rows, 2)
        standby = Standby(server_url, workdir / "standby")
        standby.create()
        standby.start()
        try:
            replica = libpq(standby.url(DATABASE))
            for name, extra in (("primary", {}), ("standby", {"MOVIEMANAGER_READ_REPLICA_URLS": replica})):
                wait_caught_up(libpq(database_url))
                command = ["uv", "run", "--no-sync", "moviemanager", "serve"]
                with Served(command, {**env, **extra}, "/healthz", workdir / f"import-{name}.log") as served:
                    if extra:
                        wait_serving(served.url)
                    result = during_import(args, workdir, served.url, name, import_file, libpq(database_url), urls)
                results["during_import"].append(result)
        finally:
            standby.stop()
    finally:
        primary.stop()
    return results


def server_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "MOVIEMANAGER_LOAD_DEFAULTS": "false",
        "MOVIEMANAGER_MIGRATE_ON_START": "false",
        "MOVIEMANAGER_LOG_LEVEL": "warning",
        "MOVIEMANAGER_CURSOR_SECRET": "scale-bench",
        "MOVIEMANAGER_ADMIN_TOKEN": BENCH_ADMIN_TOKEN,
        "MOVIEMANAGER_PAGE_CACHE_MB": "0",
    }


def load(args: argparse.Namespace, workdir: Path, env: dict[str, str], sql_url: str) -> None:
    subprocess.run(["uv", "run", "--no-sync", "moviemanager", "migrate"], cwd=PROJECT_ROOT, env=env, check=True)
    path = timed_generate(workdir / "big.csv", args.rows, 1)
    started = time.perf_counter()
    command = ["uv", "run", "--no-sync", "moviemanager", "load", BIG, str(path), "--quiet"]
    subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"loaded {BIG}: {args.rows:,} movies in {time.perf_counter() - started:.1f} s", flush=True)
    path.unlink()
    subprocess.run(["psql", sql_url, "-X", "-q", "-c", "VACUUM ANALYZE"], check=True)


def read_urls() -> list[str]:
    """Distinct GET /movies paths, in a fixed shuffled order: genre × year × rating_gte × sort."""
    paths = []
    for genre in GENRES:
        for year in range(1980, 2026):
            for rating, sort in ((5, "tmdb_id"), (6, "-rating"), (7, "title")):
                params = {"genre": genre, "year": year, "rating_gte": rating, "sort": sort, "limit": 20}
                paths.append(httpx.URL("/movies", params=params).raw_path.decode())
    random.Random(7).shuffle(paths)
    return paths


def wrk_script(workdir: Path, urls: list[str], delay_ms: int) -> Path:
    script = workdir / "urls.lua"
    lines = [
        f"wrk.headers[ {lua_string('X-Tenant')} ] = {lua_string(BIG)}",
        "local paths = {" + ",".join(lua_string(url) for url in urls) + "}",
        "local i = 0",
        "request = function()",
        "  i = i % #paths + 1",
        '  return wrk.format("GET", paths[i])',
        "end",
    ]
    if delay_ms:  # each connection waits this long before its next request: a paced load, not a saturating one
        lines.append(f"delay = function() return {delay_ms} end")
    script.write_text("\n".join(lines) + "\n")
    return script


def start_wrk(workdir: Path, base: str, urls: list[str], seconds: int, connections: int, delay_ms: int = 0):
    script = wrk_script(workdir, urls, delay_ms)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    process = subprocess.Popen([*command, base], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.load_before = os.getloadavg()[0]  # the 1-minute load average as it starts
    return process


def finish_wrk(name: str, process: subprocess.Popen) -> dict:
    out, err = process.communicate()
    if err.strip():
        raise SystemExit(f"wrk failed on {name}: {err.strip()}")
    result = parse_wrk(out) | {"load": (process.load_before, os.getloadavg()[0])}
    print(
        f"{name}: {result['rps']:,.0f} req/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms", flush=True
    )
    return result


def during_import(args, workdir: Path, base: str, name: str, path: Path, sql_url: str, urls: list[str]) -> dict:
    """wrk on `big` from just before POST /reload until it answers; the lag sampled every second meanwhile."""
    sampler = LagSampler(sql_url, base)
    sampler.start()
    reads = start_wrk(workdir, base, urls, 3600, args.import_connections, args.import_delay_ms)
    time.sleep(2)
    started = time.perf_counter()
    with path.open("rb") as catalog:
        response = httpx.post(
            f"{base}/reload",
            params={"tenant": f"import_{name}"},
            files={"file": ("movies.csv", catalog, "text/csv")},
            headers={"Authorization": f"Bearer {BENCH_ADMIN_TOKEN}"},
            timeout=None,
        )
    seconds = time.perf_counter() - started
    reads.send_signal(signal.SIGINT)  # wrk stops and reports what it measured
    result = finish_wrk(f"reads during the import, {name}", reads)
    sampler.stop.set()
    sampler.join()
    response.raise_for_status()
    catch_up = wait_caught_up(sql_url)
    print(f"import into import_{name}: {seconds:.1f} s; the standby caught up {catch_up:.1f} s after", flush=True)
    return {"served_by": name, "import_seconds": seconds, "catch_up_seconds": catch_up, **result, **sampler.summary()}


class LagSampler(threading.Thread):
    """Every second: the primary's view of the standby's replay, and the server's gauges."""

    def __init__(self, sql_url: str, base: str) -> None:
        super().__init__(daemon=True)
        self.sql_url, self.base = sql_url, base
        self.stop = threading.Event()
        self.replay_lag: list[float] = []
        self.bytes_behind: list[float] = []
        self.app_lag: list[float] = []
        self.serving: list[float] = []

    def run(self) -> None:
        while not self.stop.wait(1.0):
            if state := replay_state(self.sql_url):
                self.replay_lag.append(state[0])
                self.bytes_behind.append(state[1])
            try:
                self.app_lag += gauges(self.base, "moviemanager_replica_lag_seconds")
                self.serving += gauges(self.base, "moviemanager_replica_serving")
            except httpx.HTTPError:
                continue

    def summary(self) -> dict:
        def stats(values: list[float]) -> dict | None:
            return {"median": statistics.median(values), "max": max(values)} if values else None

        return {
            "samples": len(self.replay_lag),
            "replay_lag_s": stats(self.replay_lag),
            "mib_behind": stats([b / 2**20 for b in self.bytes_behind]),
            "app_lag_s": stats([lag for lag in self.app_lag if lag >= 0]),
            "standby_serving_share": statistics.mean(self.serving) if self.serving else None,
        }


def replay_state(sql_url: str) -> tuple[float, float] | None:
    """(replay_lag in seconds, bytes of WAL not replayed) of the standby, as the primary sees it."""
    argv = ["psql", sql_url, "-X", "-t", "-A", "-F", " ", "-c", LAG_QUERY]
    row = subprocess.run(argv, capture_output=True, text=True)
    if row.returncode != 0 or not row.stdout.strip():
        return None
    lag, behind = row.stdout.split()
    return float(lag), float(behind)


def wait_caught_up(sql_url: str) -> float:
    """Seconds until the standby has replayed all the primary's WAL."""
    started = time.perf_counter()
    while time.perf_counter() - started < CATCH_UP_TIMEOUT:
        if (state := replay_state(sql_url)) and state[1] <= 0:
            return time.perf_counter() - started
        time.sleep(0.2)
    raise RuntimeError("the standby did not catch up")


def gauges(base: str, name: str) -> list[float]:
    """The values of one gauge of GET /metrics (one a replica)."""
    lines = httpx.get(f"{base}/metrics", timeout=2).text.splitlines()
    return [float(line.split()[-1]) for line in lines if line.startswith(name + "{")]


def wait_serving(base: str) -> None:
    """Until the server's monitor finds the standby fit to take reads."""
    deadline = time.monotonic() + 30
    while gauges(base, "moviemanager_replica_serving") != [1.0]:
        if time.monotonic() > deadline:
            raise RuntimeError("the server never took the standby into use")
        time.sleep(0.5)


def print_table(results: dict) -> None:
    arguments = results["arguments"]
    print(
        f"\nFirst-visit reads of {arguments['rows']:,} movies (no kept answers),"
        f" {arguments['connections']} connections:"
    )
    print(f"{'workers':>7} {'req/s':>8} {'× before':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}  load average")
    first = results["reads"][0]
    for r in results["reads"]:  # each run against the last run with the first worker count
        first = r if r["workers"] == first["workers"] else first
        figures = f"{r['rps']:>8,.0f} {r['rps'] / first['rps']:>8.2f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f}"
        print(f"{r['workers']:>7} {figures} {r['errors']:>6}  {r['load'][0]:.1f} → {r['load'][1]:.1f}")
    print(
        f"\nThe same reads during an import of {arguments['import_rows']:,} movies into another tenant"
        f" (1 worker; {arguments['import_connections']} connections, {arguments['import_delay_ms']} ms between reads):"
    )
    print(f"{'served by':<10} {'import s':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}  standby lag")
    labels = (("replay_lag_s", "replay_lag s"), ("mib_behind", "MiB behind"), ("app_lag_s", "server's lag s"))
    for r in results["during_import"]:
        lag = ", ".join(
            f"{label} median {r[key]['median']:.1f} max {r[key]['max']:.1f}" for key, label in labels if r.get(key)
        )
        if (share := r.get("standby_serving_share")) is not None:
            lag += f", standby taking reads in {share:.0%} of samples"
        lag += f"; caught up {r['catch_up_seconds']:.1f} s after"
        figures = f"{r['import_seconds']:>8.1f} {r['rps']:>7,.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f}"
        print(f"{r['served_by']:<10} {figures} {r['errors']:>6}  {lag}; load {r['load'][0]:.1f} → {r['load'][1]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
