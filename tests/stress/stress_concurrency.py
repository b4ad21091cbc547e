"""Proof 3, concurrency: 50 reloads of one tenant (valid files of different sizes, ~30% failing
ones) while 20 readers poll the tenant's count and a checksum every 10 ms.

Passes when every observation is the state before the run or after some successful reload, the
final state is the last successful reload's, no answer is a 5xx, the log shows no deadlock, and
another tenant's checksum never changes. Each reloader also reads right after each of its
successful reloads, sending the ETag it read just before: that read must never be a 304, nor show
a catalog older than its own (only its own or one another reloader committed meanwhile), although
pages are kept in memory and answered from there (movies/reading/cached_answers.py).

    uv run python tests/stress/stress_concurrency.py [--reloads 50] [--readers 20]
"""

import argparse
import asyncio
import collections
import hashlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import ADMIN, ScratchPostgres, Service, catalog_csv, movie

TENANT, OTHER = "conc", "bystander"
ID_BASE = 100_000  # file i holds ids i*ID_BASE+1 … i*ID_BASE+n: a page tells which file it came from


def catalog(index: int, rows: int, bad: bool) -> bytes:
    movies = [movie(index * ID_BASE + n) for n in range(1, rows + 1)]
    if bad:
        movies[-1]["Year"] = "19x5"  # the last row: the import fails late, after COPY
    return catalog_csv(movies)


def fingerprint(response: httpx.Response) -> tuple[int, int, str]:
    """(movies in the tenant, the file they came from, a checksum of the page)."""
    ids = [int(m["tmdb_id"]) for m in response.json()]
    total = int(response.headers.get("X-Total-Count", len(ids)))
    digest = hashlib.blake2b(response.content, digest_size=8).hexdigest()
    return total, (ids[0] // ID_BASE if ids else -1), digest


async def main(reloads: int, readers: int, page_size: int) -> int:
    rng = random.Random(5)
    sizes = {i: rng.choice([50, 200, 800, 2000, 5000]) for i in range(1, reloads + 1)}
    failing = set(rng.sample(sorted(sizes), k=round(reloads * 0.3)))
    with tempfile.TemporaryDirectory(prefix="mm-stress-") as tmp, ScratchPostgres(Path(tmp)) as pg:
        log = Path(tmp) / "serve.log"
        with Service(pg.dsn, log, MOVIEMANAGER_DB_POOL_SIZE="10") as service:
            result = await run(service, sizes, failing, readers, page_size)
        log_text = log.read_text()
        kept = Path(tempfile.gettempdir()) / "stress_concurrency.log"
        kept.write_text(log_text)
        print(f"server log kept in {kept}")
    deadlocks = log_text.count("deadlock detected")
    print(f"server log: {deadlocks} deadlocks, {log_text.count('unhandled error')} unhandled errors")
    return 0 if result and deadlocks == 0 else 1


async def run(service: Service, sizes: dict[int, int], failing: set[int], readers: int, page_size: int) -> bool:
    limits = httpx.Limits(max_connections=readers + 8)
    async with httpx.AsyncClient(base_url=service.base_url, timeout=120, limits=limits) as client:

        async def reload(data: bytes, tenant: str = TENANT) -> httpx.Response:
            files = {"file": ("c.csv", data, "text/csv")}
            # allow_shrink: going from 5,000 movies to 50 is intended here.
            params = {"tenant": tenant, "allow_shrink": "true"}
            return await client.post("/reload", params=params, files=files, headers=ADMIN)

        assert (await reload(catalog(0, 500, False))).status_code == 200
        assert (await reload(catalog(99, 300, False), OTHER)).status_code == 200
        page = {"limit": page_size, "count": "exact"}  # X-Total-Count comes with count= only
        initial = fingerprint(await client.get("/movies", params={"tenant": TENANT, **page}))
        other_initial = fingerprint(await client.get("/movies", params={"tenant": OTHER, **page}))

        observations: list[tuple[float, tuple]] = []
        other_changes = statuses_5xx = 0
        latencies: list[float] = []
        stop = asyncio.Event()

        async def poll(number: int) -> None:
            nonlocal other_changes, statuses_5xx
            polls = 0
            while not stop.is_set():
                polls += 1
                tenant = OTHER if polls % 10 == number % 10 else TENANT
                started = time.monotonic()
                response = await client.get("/movies", params={"tenant": tenant, **page})
                latencies.append(time.monotonic() - started)
                if response.status_code >= 500:
                    statuses_5xx += 1
                elif tenant == OTHER:
                    other_changes += fingerprint(response) != other_initial
                else:
                    observations.append((time.monotonic(), fingerprint(response)))
                await asyncio.sleep(0.01)

        outcomes: list[tuple[float, int, int, float]] = []  # (finished, file, status, seconds)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in sizes:
            queue.put_nowait(index)

        # (when the reload started, its file, the read after it: status and fingerprint)
        own_reads: list[tuple[float, int, int, tuple | None]] = []

        async def reloader() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                before = await client.get("/movies", params={"tenant": TENANT, **page})
                started = time.monotonic()
                response = await reload(catalog(index, sizes[index], index in failing))
                outcomes.append((time.monotonic(), index, response.status_code, time.monotonic() - started))
                if response.status_code == 200:
                    conditional = {"If-None-Match": before.headers["etag"]}
                    after = await client.get("/movies", params={"tenant": TENANT, **page}, headers=conditional)
                    seen = fingerprint(after) if after.status_code == 200 else None
                    own_reads.append((started, index, after.status_code, seen))

        pollers = [asyncio.create_task(poll(n)) for n in range(readers)]
        started = time.monotonic()
        await asyncio.gather(*(reloader() for _ in range(3)))
        elapsed = time.monotonic() - started
        stop.set()
        await asyncio.gather(*pollers)
        final = fingerprint(await client.get("/movies", params={"tenant": TENANT, **page}))

    # The states a reader may see: the first catalog, or one a reload reported as loaded.
    loaded = {index for _, index, status, _ in outcomes if status == 200}
    statuses = collections.Counter(status for _, _, status, _ in outcomes)
    expected = {0: initial[0], **{i: sizes[i] for i in loaded}}
    torn = [fp for _, fp in observations if fp[1] not in expected or expected[fp[1]] != fp[0]]
    from_failed = [fp for _, fp in observations if fp[1] in failing]
    # After its own reload a reader may see that catalog or a later one (a reload that ended after
    # its own began), never an earlier one, and never a 304 for the ETag it had before.
    stale = [
        (index, status, seen)
        for started, index, status, seen in own_reads
        if status != 200
        or seen is None
        or (seen[1] != index and not any(f == seen[1] and s == 200 and end > started for end, f, s, _ in outcomes))
    ]
    last_success = max((o for o in outcomes if o[2] == 200), default=None)
    final_ok = final[1] == (last_success[1] if last_success else 0)
    durations = [seconds for *_, seconds in outcomes]
    lat = sorted(latencies)
    print(f"{len(outcomes)} reloads in {elapsed:.1f} s: statuses {dict(statuses)}; {len(failing)} files were invalid")
    print(f"reload seconds: median {statistics.median(durations):.2f}, max {max(durations):.2f}")
    print(
        f"{len(observations)} observations of {TENANT!r}, {len(set(fp for _, fp in observations))} distinct states; "
        f"read latency p50 {lat[len(lat) // 2] * 1000:.0f} ms, p99 {lat[int(len(lat) * 0.99)] * 1000:.0f} ms"
    )
    print(f"observations not matching a committed state: {len(torn)} {torn[:3]}")
    print(f"observations of a failed file's rows: {len(from_failed)}")
    print(f"reads right after an own reload: {len(own_reads)}, stale or 304: {len(stale)} {stale[:3]}")
    print(
        f"final state from file {final[1]} with {final[0]} movies; last successful reload: file "
        f"{last_success[1] if last_success else 0}: {'OK' if final_ok else 'MISMATCH'}"
    )
    print(
        f"5xx answers: {statuses_5xx + sum(s >= 500 for s in statuses.elements())}; "
        f"{OTHER!r} changed in {other_changes} observations"
    )
    bad_statuses = set(statuses) - {200, 409, 422}
    return (
        not torn
        and not from_failed
        and not stale
        and final_ok
        and not statuses_5xx
        and not other_changes
        and not bad_statuses
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reloads", type=int, default=50)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--page", type=int, default=100, help="movies per read (the checksum covers one page)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.reloads, args.readers, args.page)))
