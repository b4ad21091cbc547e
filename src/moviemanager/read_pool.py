"""Connections for the hot reads (a page of movies, one movie): asyncpg directly, one statement each.

Those reads are single statements, so they need no transaction: in autocommit a statement sees one
snapshot. Through a SQLAlchemy session the same page cost eight round trips (pre-ping, BEGIN, the
tenant's set_config, the version, the page, its categories, ROLLBACK) and far more Python.
Here it costs one round trip (a list page two: the version first, for the page cache), as the
connection stays scoped to the tenant it last served.

Row-level security reads the tenant from `app.tenant`. These connections set it for the session,
not the transaction, and remember it: a request for another tenant sets it again first. Each
statement also names its tenant, so a stale setting could only hide rows, never show another
tenant's. The pool never resets connections (asyncpg's default RESET ALL would clear the setting);
nothing else changes their state: they are read-only and run no transaction.

With MOVIEMANAGER_READ_REPLICA_URLS, each streaming-replication standby has a pool of its own
(replicas.py chooses among them); a read that says how to tell a current answer (`fresh`) may run
on one, and the primary answers whatever a standby could not, or answered from an older catalog.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import asyncpg
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from .config import Settings
from .database_errors import database_unavailable
from .db import Timeouts, as_interval, create_engine
from .errors import PoolExhausted
from .metrics import PoolStats
from .replicas import Replica, Replicas, ReplicaState, replica_url
from .tenants.versions import DataVersions

log = logging.getLogger(__name__)
T = TypeVar("T")

# A statement per listing shape (filters present, sort, count): more than asyncpg's default 100.
STATEMENT_CACHE_SIZE = 1000
SET_TENANT = "SELECT set_config('app.tenant', $1, false)"


Work = Callable[[asyncpg.Connection], Awaitable[T]]


class ReadRunner(Protocol):
    """Where reads run: a ReadPool (the tests run them in their own transaction instead)."""

    async def run(self, tenant: str, work: "Work[T]", *, fresh: "Callable[[T], bool] | None" = None) -> T:
        """`work` on a connection scoped to `tenant`, its result returned; with `fresh`, a
        standby may answer (see ReadPool.run)."""
        ...


class TenantConnection(asyncpg.Connection):
    """A pooled connection that remembers the tenant its session is scoped to."""

    scoped_tenant: str | None = None

    async def scope_to(self, tenant: str) -> None:
        if self.scoped_tenant != tenant:
            self.scoped_tenant = None  # unknown until the setting is confirmed
            await self.execute(SET_TENANT, tenant)
            self.scoped_tenant = tenant


class ReadPool:
    """An asyncpg pool logging in as the engine does (the app role), its connections read-only."""

    def __init__(self, pool: asyncpg.Pool, acquire_timeout: float, replicas: Replicas | None = None) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        self._waiting = 0  # reads waiting for a connection, for stats()
        self.replicas = replicas

    @classmethod
    async def open(
        cls,
        engine: AsyncEngine,
        settings: Settings,
        *,
        versions: DataVersions | None = None,
        watch_replicas: bool = True,
    ) -> "ReadPool":
        """A pool beside the engine's, as large, with the same limits; one more per standby of
        MOVIEMANAGER_READ_REPLICA_URLS (and an engine, for units of work that only read, at the
        `versions` this process knows), checked in the background (unless not `watch_replicas`:
        then whoever opened it calls `replicas.check()`)."""
        pool = await _create_pool(connect_args(engine), settings)
        replicas = None
        if settings.read_replica_urls:
            standbys = []
            for number, given in enumerate(settings.read_replica_urls, start=1):
                url = replica_url(given, settings)
                arguments = connect_args(engine, url)
                standbys.append(
                    Replica(
                        f"replica-{number}",
                        url,
                        connect_args=arguments,
                        pool=await _create_pool(arguments, settings),
                        engine=create_engine(url, settings),
                        settings=settings,
                    )
                )
            replicas = Replicas(standbys, connect_args(engine), settings.replica_max_lag_s, versions)
            if watch_replicas:
                replicas.watch()
        return cls(pool, settings.db_pool_timeout, replicas)

    async def run(self, tenant: str, work: Work[T], *, fresh: Callable[[T], bool] | None = None) -> T:
        """`work` on a pooled connection scoped to `tenant`, its result returned.

        With `fresh` (whether an answer carries the tenant's data version this process knows),
        a standby may answer; when its answer is not fresh, or it fails, the primary answers
        instead. Without `fresh`, the primary answers."""
        if fresh is not None and self.replicas is not None:
            for replica in self.replicas.candidates():
                try:
                    with replica.serving():
                        answer = await self._run_on(replica.pool, tenant, work)
                except PoolExhausted:
                    continue  # the next standby, or the primary
                except Exception as exc:
                    if database_unavailable(exc):
                        replica.lost(exc)
                        continue
                    # E.g. a statement cancelled by a conflict with the standby's recovery.
                    log.info("replica %s: the read failed (%s); the primary answers", replica.name, type(exc).__name__)
                    break
                if fresh(answer):
                    return answer
                break  # behind what this process knows: the primary answers
        return await self._run_on(self._pool, tenant, work)

    def replica_states(self) -> list[ReplicaState]:
        """Each standby's name, URL without password, state and lag (for /readyz and metrics)."""
        return [] if self.replicas is None else self.replicas.states()

    async def _run_on(self, pool: asyncpg.Pool, tenant: str, work: Work[T]) -> T:
        """Reads are safe to repeat: when the connection turns out to be dead (the server
        restarted since it was last used), the work runs once more on a new one, in place of a
        ping before every use."""
        for attempt in (1, 2):
            async with self._acquired(pool) as connection:
                try:
                    await connection.scope_to(tenant)
                    return await work(connection)
                except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as exc:
                    if not _lost(connection, exc):
                        raise  # the statement failed, not the connection
                    if attempt == 2:
                        raise ConnectionError("the read connection was lost") from exc
                    log.info("read connection lost (%s); running the read again on a new one", type(exc).__name__)
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def _acquired(self, pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
        self._waiting += 1
        try:
            # asyncio.timeout, not acquire(timeout=…), which makes a task of every acquire.
            async with asyncio.timeout(self._acquire_timeout):
                connection = await pool.acquire()
        except TimeoutError:
            raise PoolExhausted() from None
        finally:
            self._waiting -= 1
        try:
            yield connection
        finally:
            await pool.release(connection)

    async def close(self) -> None:
        if self.replicas is not None:
            await self.replicas.close()
        await self._pool.close()

    def stats(self) -> PoolStats:
        """The pool's size, open connections, those in use, and the reads waiting (for metrics.py)."""
        size = self._pool.get_size()
        return PoolStats(self._pool.get_max_size(), size, size - self._pool.get_idle_size(), self._waiting)


def engine_pool_stats(engine: AsyncEngine) -> PoolStats:
    """The same of the engine's pool (the units of work's). A request waiting for one of its
    connections shows as a waiter of its asyncio queue: SQLAlchemy counts them nowhere public."""
    pool: Any = engine.pool
    queue = getattr(getattr(pool, "_pool", None), "_queue", None)
    waiting = len(getattr(queue, "_getters", ()))
    return PoolStats(pool.size(), pool.size() + pool.overflow(), pool.checkedout(), waiting)


async def _create_pool(arguments: dict, settings: Settings) -> asyncpg.Pool:
    timeouts = Timeouts.from_settings(settings)
    return await asyncpg.create_pool(
        **arguments,
        min_size=0,  # connects on first use, as the engine does
        max_size=settings.db_pool_size,
        timeout=settings.db_pool_timeout,  # to connect; asyncpg's default is 60 s
        connection_class=TenantConnection,
        statement_cache_size=STATEMENT_CACHE_SIZE,
        reset=_keep_session,
        server_settings={
            "default_transaction_read_only": "on",
            # A plan for the values at hand, every time: after five runs PostgreSQL may keep a
            # generic plan of a prepared statement, and for a search that plan reads whole
            # GIN posting lists, over twenty times slower (docs/performance.md).
            "plan_cache_mode": "force_custom_plan",
            # A statement planned for a million rows (a count, the category report) would be
            # JIT-compiled first, which takes longer than these reads run.
            "jit": "off",
            "statement_timeout": as_interval(timeouts.statement),
            "lock_timeout": as_interval(timeouts.lock),
            "app.tenant": "",
        },
    )


def connect_args(engine: AsyncEngine, url: URL | None = None) -> dict:
    """asyncpg.connect's arguments for logging in as `engine` does (the app role), or at `url`."""
    _, args = engine.dialect.create_connect_args(url or engine.url)
    args.pop("prepared_statement_cache_size", None)  # SQLAlchemy's names, not asyncpg's
    return args


def _lost(connection: asyncpg.Connection, exc: Exception) -> bool:
    """Whether the connection is gone (a restart, a dropped backend), rather than the statement wrong."""
    if database_unavailable(exc):
        return True
    try:
        if isinstance(exc, asyncpg.InternalClientError):
            # The protocol is in a state it cannot leave, e.g. a statement sent while the server's
            # goodbye (a restart, a dropped backend) was still being read: not to be used again.
            connection.terminate()
            return True
        return connection.is_closed()
    except asyncpg.InterfaceError:
        return True  # the pool let go of it already: it closed


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset: nothing to undo (see the module's docstring)."""
