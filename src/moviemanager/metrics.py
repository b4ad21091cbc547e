"""Prometheus metrics, served by GET /metrics (metrics_router.py): requests, latency, connection
pools, imports, kept answers, the data versions' listener.

Requests are counted in the one middleware (middleware.py) by route template, never the raw path,
so no tenant, id or token reaches a label. Each labelled series is looked up once and kept, so a
request costs two increments (docs/performance.md). What is a state rather than an event (the
pools, the page cache, the listener) is read by `Metrics.sample`, once a second and before each
scrape, from the sources `attach` names; `add_sampler` adds more (replica lag belongs there).

With several server processes (`moviemanager serve --workers N`), PROMETHEUS_MULTIPROC_DIR is set
before they start: each process writes its values to files there, and a scrape of any of them
adds them up (prometheus-client's multiprocess mode). Gauges say how: `livesum` adds the live
processes' values, `liveall` shows each process's with its pid.
"""

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from starlette.types import Scope

from .errors import CatalogBusy, CategoriesBusy, InvalidCsv, InvalidUpload, ShrinkRefused, TenantBusy

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
ROUTE_KEY = "moviemanager.route"  # a route template, for answers sent before routing (cached_answers.py)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SAMPLE_SECONDS = 1.0

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # CPU and memory; one process's only, so left out with workers

REQUESTS = Counter(
    "moviemanager_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "moviemanager_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template and method",
    ["route", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
PROCESS_REQUESTS = Gauge(
    "moviemanager_process_requests",
    "HTTP requests this server process has answered since it started",
    multiprocess_mode="liveall",
    registry=REGISTRY,
)

POOL_SIZE = Gauge(
    "moviemanager_db_pool_size",
    "Connections a pool keeps (its configured size): sessions (units of work) or reads (the hot reads)",
    ["pool"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
POOL_OPEN = Gauge(
    "moviemanager_db_pool_open", "Connections a pool has open", ["pool"], multiprocess_mode="livesum", registry=REGISTRY
)
POOL_IN_USE = Gauge(
    "moviemanager_db_pool_in_use",
    "Connections of a pool serving a request now",
    ["pool"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
POOL_WAITING = Gauge(
    "moviemanager_db_pool_waiting",
    "Requests waiting for a connection of a pool",
    ["pool"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
REPLICA_LAG = Gauge(
    "moviemanager_replica_lag_seconds",
    "How far a read replica's replay is behind the primary (-1: unknown, e.g. the standby is down)",
    ["replica"],
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)
REPLICA_SERVING = Gauge(
    "moviemanager_replica_serving",
    "1 while a read replica takes reads (state ok), 0 while it is skipped (down, lagging, paused)",
    ["replica"],
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)

IMPORTS = Counter(
    "moviemanager_imports",
    "Imports by outcome: ok, invalid (the file), refused (it would shrink the catalog, or the tenant "
    "or categories were busy), failed (anything else)",
    ["outcome"],
    registry=REGISTRY,
)
IMPORT_ROWS = Counter("moviemanager_import_rows", "Valid rows read by successful imports", registry=REGISTRY)
IMPORT_SECONDS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600]
IMPORT_DURATION = Histogram(
    "moviemanager_import_duration_seconds", "Successful imports' duration", buckets=IMPORT_SECONDS, registry=REGISTRY
)
IMPORT_PHASES = Histogram(
    "moviemanager_import_phase_duration_seconds",
    "Successful imports' time by phase (the report's phases_ms: parse_and_copy, primary_key, compare, …)",
    ["phase"],
    buckets=IMPORT_SECONDS,
    registry=REGISTRY,
)
IMPORT_ROWS_PER_SECOND = Gauge(
    "moviemanager_import_rows_per_second",
    "The last successful import's rows per second",
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)

PAGE_CACHE_HITS = Counter(
    "moviemanager_page_cache_hits", "Kept answers found (a body or a 304 sent from memory)", registry=REGISTRY
)
PAGE_CACHE_MISSES = Counter(
    "moviemanager_page_cache_misses", "Bodies read from the database that could be kept", registry=REGISTRY
)
PAGE_CACHE_BYTES = Gauge(
    "moviemanager_page_cache_bytes", "Memory the kept answers take", multiprocess_mode="livesum", registry=REGISTRY
)
LISTENING = Gauge(
    "moviemanager_data_versions_listening",
    "1 while the process's data-version listener is connected, else 0 (reads then ask the database)",
    multiprocess_mode="liveall",
    registry=REGISTRY,
)


@dataclass(frozen=True)
class PoolStats:
    size: int
    open: int
    in_use: int
    waiting: int


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR))


def exposition() -> bytes:
    """Every metric in Prometheus' text format: this process's, or every process's added up."""
    if not multiprocess_mode():
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


def note_route(scope: Scope, template: str) -> None:
    """Name the route of a request answered before routing."""
    scope[ROUTE_KEY] = template


class Metrics:
    """One process's recorder: requests (from the middleware), and the sampled states."""

    def __init__(self) -> None:
        self.answered = 0
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._samplers: list[Callable[[], None]] = []
        self._counted: dict[str, int] = {}

    def request(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        if route is not None:
            template = route.path_format
        else:
            template = scope.get(ROUTE_KEY) or ("unmatched" if status == 404 else "other")
        key = (template, scope["method"], status)
        series = self._series.get(key)
        if series is None:
            method = key[1] if key[1] in METHODS else "other"
            series = (REQUESTS.labels(template, method, str(status)), LATENCY.labels(template, method))
            self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)
        self.answered += 1

    def add_sampler(self, sampler: Callable[[], None]) -> None:
        """Run `sampler` (which sets gauges) at each sample: once a second and before each scrape."""
        self._samplers.append(sampler)

    def watch_replicas(self, states: Callable[[], list[Any]]) -> None:
        """Each read replica's lag and whether it serves, from `states` (ReadPool.replica_states)."""

        def replicas() -> None:
            for replica in states():
                REPLICA_LAG.labels(replica.name).set(-1 if replica.lag_seconds is None else replica.lag_seconds)
                REPLICA_SERVING.labels(replica.name).set(1 if replica.state == "ok" else 0)

        self.add_sampler(replicas)

    def attach(self, *, pools: dict[str, Callable[[], PoolStats]], page_cache: Any, versions: Any) -> None:
        """The states to sample: each pool's stats, the page cache (hits, misses, size_bytes),
        the data versions (listening)."""

        def pools_and_caches() -> None:
            for name, stats in pools.items():
                current = stats()
                POOL_SIZE.labels(name).set(current.size)
                POOL_OPEN.labels(name).set(current.open)
                POOL_IN_USE.labels(name).set(current.in_use)
                POOL_WAITING.labels(name).set(current.waiting)
            self._count(PAGE_CACHE_HITS, "hits", page_cache.hits)
            self._count(PAGE_CACHE_MISSES, "misses", page_cache.misses)
            PAGE_CACHE_BYTES.set(page_cache.size_bytes)
            LISTENING.set(1 if versions.listening else 0)

        self.add_sampler(pools_and_caches)

    async def keep_sampling(self) -> None:
        """Sample every SAMPLE_SECONDS until cancelled: with several processes, a scrape reads the
        others' states from their last sample."""
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_SECONDS)

    def sample(self) -> None:
        PROCESS_REQUESTS.set(self.answered)
        for sampler in self._samplers:
            sampler()

    def _count(self, counter: Counter, name: str, total: int) -> None:
        """Move `counter` on by what `total` grew since the last sample."""
        before = self._counted.get(name, 0)
        if total > before:
            counter.inc(total - before)
        self._counted[name] = total


def import_outcome(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    if isinstance(error, InvalidCsv | InvalidUpload):
        return "invalid"
    if isinstance(error, ShrinkRefused | TenantBusy | CatalogBusy | CategoriesBusy):
        return "refused"
    return "failed"


def record_import(report: Any) -> None:
    """A successful import's report (an ImportReport): rows, rows/s, duration, phases."""
    IMPORTS.labels("ok").inc()
    IMPORT_ROWS.inc(report.loaded)
    IMPORT_ROWS_PER_SECOND.set(report.rows_per_second)
    IMPORT_DURATION.observe(report.elapsed_ms / 1000)
    for phase, milliseconds in report.phases_ms.items():
        IMPORT_PHASES.labels(phase).observe(milliseconds / 1000)


def record_failed_import(error: BaseException) -> None:
    IMPORTS.labels(import_outcome(error)).inc()


def mark_process_gone() -> None:
    """Drop this process's live gauges (on a clean exit; the parent removes the directory anyway)."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(os.getpid())
