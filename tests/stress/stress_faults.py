"""Proof 4, faults, on a scratch embedded PostgreSQL (never the machine's shared server):

1. `kill -9` of the service (and its parser processes) in the middle of a large reload, once
   during its COPY and once while it builds the new partition's indexes (its new tables already
   committed, unattached): after a restart the tenant holds exactly its previous catalog, no
   half-built partition is left, and the next reload succeeds.
2. `pg_ctl restart -m fast` under steady load: only requests in flight fail, as 503 with
   Retry-After (never a 500 or a dropped connection), and every request succeeds within 5 s after
   the database is back, without restarting the service.

    uv run python tests/stress/stress_faults.py [--rows 300000] [--load-seconds 12]
"""

import argparse
import asyncio
import collections
import sys
import tempfile
import threading
import time
from pathlib import Path

import asyncpg
import httpx
from common import ADMIN, ScratchPostgres, Service, catalog_csv, movie
from gen_csv import generate_file


def export(service: Service, tenant: str) -> bytes:
    response = httpx.get(f"{service.base_url}/movies.csv", params={"tenant": tenant}, timeout=60)
    response.raise_for_status()
    return response.content


def reload(service: Service, tenant: str, data, **params: str) -> httpx.Response:
    files = {"file": ("c.csv", data, "text/csv")}
    return httpx.post(
        f"{service.base_url}/reload", params={"tenant": tenant, **params}, files=files, headers=ADMIN, timeout=600
    )


# What the reload is doing when it is killed: a statement like this one is running.
PHASES = {"copy": "COPY %", "indexes": "%partition_add_index%"}


async def running(dsn: str, statement: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        query = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query ILIKE $1"
        return bool(await conn.fetchval(query, statement))
    finally:
        await conn.close()


async def partitions(dsn: str, tenant: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT relname FROM pg_class WHERE relname LIKE ANY($1) AND relkind = 'r'",
            [f"movies\\_\\_{tenant}\\_\\_%"],
        )
        return sorted(row["relname"] for row in rows)
    finally:
        await conn.close()


def kill_during_reload(pg: ScratchPostgres, tmp: Path, rows: int, phase: str) -> bool:
    print(f"== kill -9 during the {phase} of a reload of {rows:,} rows")
    big = tmp / "big.csv"
    if not big.exists():
        generate_file(big, rows, seed=1)
    log = tmp / "kill.log"
    service = Service(pg.dsn, log).start()
    try:
        assert reload(service, "victim", catalog_csv([movie(i) for i in range(1, 101)])).status_code == 200
        before = export(service, "victim")
        tables_before = asyncio.run(partitions(pg.dsn, "victim"))

        def upload() -> None:
            try:
                with big.open("rb") as file:
                    reload(service, "victim", file, allow_shrink="true")
            except httpx.TransportError:
                pass  # expected: the server dies under it

        uploader = threading.Thread(target=upload)
        uploader.start()
        deadline = time.monotonic() + 120
        while not asyncio.run(running(pg.dsn, PHASES[phase])):
            assert time.monotonic() < deadline, f"the {phase} never started"
            time.sleep(0.05)
        time.sleep(1.0 if phase == "copy" else 0.2)  # well inside it
        service.kill9()
        killed_at = time.monotonic()
        uploader.join()
    finally:
        service.stop()

    service = Service(pg.dsn, log).start()
    try:
        print(f"service back {time.monotonic() - killed_at:.1f} s after kill -9")
        same = export(service, "victim") == before
        tables_after = asyncio.run(partitions(pg.dsn, "victim"))
        print(f"catalog after restart identical to before: {same}; partitions {tables_before} -> {tables_after}")
        next_reload = reload(service, "victim", catalog_csv([movie(i) for i in range(1, 121)]))
        print(f"next reload: {next_reload.status_code}, loaded {next_reload.json().get('loaded')}")
        return same and tables_after == tables_before and next_reload.status_code == 200
    finally:
        service.stop()


async def restart_under_load(pg: ScratchPostgres, tmp: Path, seconds: float) -> bool:
    print("== pg_ctl restart -m fast under steady load")
    service = Service(pg.dsn, tmp / "restart.log", MOVIEMANAGER_DB_POOL_TIMEOUT="2").start()
    results: list[tuple[float, float, str]] = []  # (started, finished, outcome)
    try:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
            small = catalog_csv([movie(i) for i in range(1, 51)])
            first = (await client.get("/movies", params={"tenant": "trending", "limit": 1})).json()[0]
            one_movie = f"/movies/{first['tmdb_id']}"
            stop = asyncio.Event()

            async def worker(number: int) -> None:
                count = 0
                while not stop.is_set():
                    count += 1
                    started = time.monotonic()
                    try:
                        if number == 0 and count % 5 == 0:
                            files = {"file": ("c.csv", small, "text/csv")}
                            response = await client.post(
                                "/reload", params={"tenant": "steady"}, files=files, headers=ADMIN
                            )
                        elif count % 2:
                            response = await client.get("/movies", params={"tenant": "movies", "limit": 20})
                        else:
                            response = await client.get(one_movie, params={"tenant": "trending"})
                        outcome = str(response.status_code)
                        if response.status_code == 503 and "Retry-After" not in response.headers:
                            outcome = "503 without Retry-After"
                    except httpx.HTTPError as exc:
                        outcome = type(exc).__name__
                    results.append((started, time.monotonic(), outcome))
                    await asyncio.sleep(0.02)

            workers = [asyncio.create_task(worker(n)) for n in range(16)]
            await asyncio.sleep(3)
            down = time.monotonic()
            took = await asyncio.to_thread(pg.restart)
            back = time.monotonic()
            await asyncio.sleep(seconds)
            stop.set()
            await asyncio.gather(*workers)
    finally:
        service.stop()

    outcomes = collections.Counter(outcome for *_, outcome in results)
    failures = [(s, f, o) for s, f, o in results if not o.startswith("2")]
    late = [(s, o) for s, _, o in failures if s > back + 5]
    print(f"restart took {took:.1f} s; {len(results)} requests: {dict(outcomes)}")
    if failures:
        first, last = min(f for _, f, _ in failures), max(f for _, f, _ in failures)
        print(
            f"failures answered from {first - down:+.2f} s to {last - down:+.2f} s after the restart began "
            f"(database back at {back - down:+.2f} s)"
        )
    print(f"failed requests started more than 5 s after the database was back: {len(late)}")
    return set(outcomes) <= {"200", "503"} and not late


def main(rows: int, seconds: float) -> int:
    with tempfile.TemporaryDirectory(prefix="mm-faults-") as tmp, ScratchPostgres(Path(tmp)) as pg:
        killed = all([kill_during_reload(pg, Path(tmp), rows, phase) for phase in PHASES])
        restarted = asyncio.run(restart_under_load(pg, Path(tmp), seconds))
        for name in ("kill.log", "restart.log"):
            kept = Path(tempfile.gettempdir()) / f"stress_faults_{name}"
            kept.write_text((Path(tmp) / name).read_text())
    print(f"kill -9: {'PASS' if killed else 'FAIL'}; pg restart: {'PASS' if restarted else 'FAIL'}")
    return 0 if killed and restarted else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--load-seconds", type=float, default=12)
    args = parser.parse_args()
    sys.exit(main(args.rows, args.load_seconds))
