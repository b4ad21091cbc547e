"""Streaming-replication standbys for the hot reads: which of them may answer, and which answers next.

Each standby has a pool of its own, like the primary's read pool (read_pool.py). A monitor checks
them all every CHECK_SECONDS, never a request: it reads the primary's WAL position, then each
standby's replay position. A standby's lag is how long ago the primary first had WAL that the
standby has not replayed yet (0 when it has replayed everything the primary had at the last
sample); so an idle primary, whose last commit may be hours old, shows no lag. When the primary
cannot be asked, the standby's own view stands in: nothing behind if it has replayed all it
received, else the age of its last replayed commit.

A standby is used while it is `ok`: not `paused` (pg_wal_replay_pause), not `lagging` (more than
MOVIEMANAGER_REPLICA_MAX_LAG_S behind), not `down` (the check or a read could not reach it), and in
recovery (a server that is not is no standby of the primary: `not_standby`). Among those, the
least busy answers, equally busy ones in turn.

Units of work that only read (facets, the category tree and genres with a tenant, the export) may
open their session on a standby too (`Replicas.session`): each standby also has a SQLAlchemy engine.
"""

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from .config import Settings
from .database_errors import database_unavailable
from .db import create_sessionmaker
from .migrations.tenant_isolation import APP_ROLE
from .tenants.versions import DataVersions

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
CHECK_TIMEOUT = 2.0  # a check that takes longer finds the standby down
CHECKER_NAME = "moviemanager replica check"  # the monitor's application_name, in pg_stat_activity

# WAL positions as byte offsets (pg_lsn minus the origin), comparable in Python.
PRIMARY_POSITION = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
STANDBY_STATUS = """
    SELECT pg_is_in_recovery() AS in_recovery,
           (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS replayed,
           (pg_last_wal_receive_lsn() - '0/0'::pg_lsn)::bigint AS received,
           CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS paused,
           extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS since_replay"""

TENANT_VERSION = text("SELECT data_version FROM tenants WHERE name = :tenant")

State = Literal["starting", "ok", "lagging", "paused", "down", "not_standby"]


@dataclass(frozen=True)
class ReplicaState:
    """What /readyz and the metrics show of a standby."""

    name: str
    url: str  # without its password
    state: State
    lag_seconds: float | None


def replica_url(url: str, settings: Settings) -> URL:
    """A standby's URL logging in as the app role: as given when it names that role, else with
    the app role and MOVIEMANAGER_APP_ROLE_PASSWORD (as DATABASE_URL is read: db.app_url)."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1)).set(drivername="postgresql+asyncpg")
    if parsed.username == APP_ROLE:
        return parsed
    password = settings.app_role_password.get_secret_value() if settings.app_role_password else None
    return parsed._replace(username=APP_ROLE, password=password)  # URL.set would keep a password for None


def checker_args(connect_args: dict) -> dict:
    """asyncpg.connect's arguments for a health check's connection."""
    server_settings = {**connect_args.get("server_settings", {}), "application_name": CHECKER_NAME}
    return {**connect_args, "server_settings": server_settings}


class Replica:
    """One standby: its pool, what the last check found, how many reads it is serving."""

    def __init__(
        self, name: str, url: URL, *, connect_args: dict, pool: asyncpg.Pool, engine: AsyncEngine, settings: Settings
    ) -> None:
        self.name = name
        self.url = url
        self.pool = pool  # the hot reads'
        self.engine = engine
        self.sessions = create_sessionmaker(engine, settings)  # for units of work that only read
        self.state: State = "starting"
        self.lag: float | None = None
        self.in_flight = 0
        self._capacity = settings.db_pool_size
        self._connect_args = connect_args
        self._checker: asyncpg.Connection | None = None

    @property
    def usable(self) -> bool:
        return self.state == "ok" and self.in_flight < self._capacity

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    def lost(self, reason: BaseException) -> None:
        """A read could not reach it: skipped until a check finds it again."""
        if self.state != "down":
            log.warning("replica %s: a read failed (%s); skipped until it answers", self.name, type(reason).__name__)
        self.state = "down"

    def status(self) -> ReplicaState:
        lag = None if self.lag is None else round(self.lag, 3)
        shown = self.url._replace(drivername="postgresql", password=None).render_as_string()
        return ReplicaState(self.name, shown, self.state, lag)

    async def check(self, positions: "Positions", max_lag: float) -> None:
        """Read its replay position and set its state and lag."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                if self._checker is None or self._checker.is_closed():
                    self._checker = await asyncpg.connect(**checker_args(self._connect_args))
                row = await self._checker.fetchrow(STANDBY_STATUS)
        except Exception as exc:  # whatever it is, the standby did not answer its check
            await self.close_checker()
            self._set("down", None, f"{type(exc).__name__}: {exc}")
            return
        if not row["in_recovery"]:
            self._set("not_standby", None, "it is not in recovery")
        elif row["paused"]:
            self._set("paused", positions.lag(row["replayed"]), "its replay is paused")
        else:
            lag = positions.lag(row["replayed"])
            if lag is None:  # the primary's position is unknown: the standby's own view
                caught_up = row["received"] is not None and row["received"] <= row["replayed"]
                lag = 0.0 if caught_up else max(row["since_replay"] or 0.0, 0.0)
            state: State = "lagging" if lag > max_lag else "ok"
            self._set(state, lag, f"{lag:.1f} s behind")

    def _set(self, state: State, lag: float | None, reason: str) -> None:
        if state != self.state:
            report = log.info if state == "ok" else log.warning
            report("replica %s: %s (%s)", self.name, state, reason)
        self.state, self.lag = state, lag

    async def close_checker(self) -> None:
        if self._checker is not None:
            self._checker.terminate()
            self._checker = None


class Positions:
    """Recent samples of the primary's WAL position: how long ago it passed a given position."""

    def __init__(self, keep_seconds: float) -> None:
        self._samples: deque[tuple[float, int]] = deque()
        self._keep = keep_seconds
        self.known = False  # whether the last sample succeeded

    def add(self, position: int | None) -> None:
        now = time.monotonic()
        self.known = position is not None
        if position is None:
            return
        if not self._samples or self._samples[-1][1] != position:
            self._samples.append((now, position))
        while len(self._samples) > 1 and self._samples[1][0] < now - self._keep:
            self._samples.popleft()

    def lag(self, replayed: int | None) -> float | None:
        """Seconds since the primary first had WAL beyond `replayed`; 0 when none; None: unknown."""
        if not self.known or replayed is None or not self._samples:
            return None
        if replayed >= self._samples[-1][1]:
            return 0.0
        first_beyond = next(at for at, position in self._samples if position > replayed)
        return time.monotonic() - first_beyond


class Replicas:
    """The standbys, checked in the background; `candidates()` lists those fit to answer a read."""

    def __init__(
        self, replicas: list[Replica], primary_args: dict, max_lag: float, versions: DataVersions | None = None
    ) -> None:
        self.replicas = replicas
        self._versions = versions
        self._primary_args = primary_args
        self._primary: asyncpg.Connection | None = None
        self._max_lag = max_lag
        self._positions = Positions(keep_seconds=max(60.0, 4 * max_lag))
        self._turn = itertools.count()
        self._watcher: asyncio.Task | None = None

    def candidates(self) -> list[Replica]:
        """The usable standbys, least busy first; equally busy ones take turns."""
        usable = [replica for replica in self.replicas if replica.usable]
        if len(usable) > 1:
            start = next(self._turn) % len(usable)
            usable = sorted(usable[start:] + usable[:start], key=lambda replica: replica.in_flight)
        return usable

    def states(self) -> list[ReplicaState]:
        return [replica.status() for replica in self.replicas]

    async def session(self, info: dict) -> AsyncSession | None:
        """A session for a unit of work scoped by `info` on a fit standby whose catalog of the
        unit's tenant is at the version this process knows (checked by the transaction's first
        statement, so a read-only snapshot is of that version); None: use the primary. None too
        without a tenant, or when its version is not known here (as for the hot reads)."""
        tenant = info.get("tenant")
        known = self._versions.get(tenant) if self._versions is not None and tenant else None
        if known is None:
            return None
        for replica in self.candidates():
            session = replica.sessions(info=info)
            try:
                version = await session.scalar(TENANT_VERSION, {"tenant": tenant})
            except Exception as exc:
                await session.close()
                if database_unavailable(exc):
                    replica.lost(exc)
                    continue
                return None
            if version == known:
                return session
            await session.close()
            return None  # behind what this process knows: the primary
        return None

    async def check(self) -> None:
        """One round: the primary's position, then every standby's, at once."""
        self._positions.add(await self._primary_position())
        await asyncio.gather(*(replica.check(self._positions, self._max_lag) for replica in self.replicas))

    def watch(self) -> None:
        """Check every CHECK_SECONDS until close()."""
        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # never let the monitor die: the standbys would keep their last state
                log.exception("replica check failed")
            await asyncio.sleep(CHECK_SECONDS)

    async def _primary_position(self) -> int | None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                if self._primary is None or self._primary.is_closed():
                    self._primary = await asyncpg.connect(**checker_args(self._primary_args))
                return await self._primary.fetchval(PRIMARY_POSITION)
        except Exception:  # whatever it is, the primary's position is unknown this round
            if self._primary is not None:
                self._primary.terminate()
                self._primary = None
            return None

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._primary is not None:
            self._primary.terminate()
        for replica in self.replicas:
            await replica.close_checker()
            await replica.pool.close()
            await replica.engine.dispose()
