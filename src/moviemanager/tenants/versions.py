"""The tenants' data versions, kept in memory: a 304, or a page the page cache holds, costs no query.

Every ETag is derived from a tenant's data version (movies/reading/etags.py), which changes at each
successful reload. Reading it cost a round trip per request, as much as the rest of a cached page.
Instead each server process listens on one connection of its own: migration 0009's trigger
notifies every committed change, in commit order, and DataVersions.watch applies them to the map.

What the map does not know, reads ask the database (`get` returns None): before the listener is
connected, after its connection is lost (the map is emptied at once), and for a tenant this process
changed itself until the news of its own commit arrives, so that a client that reloads and then
reads from the same process never gets the old version. Another process's commit reaches the map
within milliseconds; until then a request there may still be answered from the old version. Every
few seconds the listener reads all versions again, which also proves its connection alive.
"""

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ..db import ScopedSession

log = logging.getLogger(__name__)

CHANNEL = "moviemanager_data_versions"  # migration 0009's
LISTENER_NAME = "moviemanager data versions"  # the listener's application_name, in pg_stat_activity
REFRESH_SECONDS = 5.0
RECONNECT_SECONDS = 1.0
ALL_VERSIONS = "SELECT name, data_version FROM tenants"

# session.info keys: the DataVersions a session's commits are told to (create_sessionmaker), and
# the versions its open transaction has written.
SESSION_KEY = "data_versions"
WRITTEN_KEY = "data_versions_written"


class DataVersions:
    """Tenant name → data version, as of the last notification; see the module's docstring."""

    def __init__(self) -> None:
        self._known: dict[str, uuid.UUID] = {}
        # Versions this process committed whose notification has not arrived: the tenant is not
        # known until it does (notifications of earlier commits may still be on their way).
        self._awaited: dict[str, tuple[uuid.UUID, int]] = {}
        self._told: dict[str, deque[uuid.UUID]] = {}  # each tenant's last notified versions
        self._commits = 0  # counts committed(), to tell which commits a snapshot includes
        self.listening = False  # whether the listener is connected (for the metrics)

    def get(self, tenant: str) -> uuid.UUID | None:
        """The tenant's current data version, or None when it is not known here: ask the database."""
        return self._known.get(tenant)

    def committed(self, versions: Mapping[str, uuid.UUID]) -> None:
        """This process committed these versions: until the listener hears of them, they are
        unknown here rather than old."""
        self._commits += 1
        for tenant, version in versions.items():
            if version in self._told.get(tenant, ()):
                continue  # its notification came first
            self._known.pop(tenant, None)
            self._awaited[tenant] = (version, self._commits)

    def forget(self) -> None:
        """Know nothing (the listener's connection is lost): every read asks the database."""
        self._known.clear()
        self._told.clear()

    async def watch(self, connect: Callable[[], Awaitable[asyncpg.Connection]]) -> None:
        """Keep the map current until cancelled: listen, read every version, apply notifications,
        read every version again every REFRESH_SECONDS; on any failure forget and reconnect."""
        failures = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
        down = False  # one warning an outage, not one a second
        while True:
            try:
                connection = await connect()
            except failures as exc:
                if not down:
                    log.warning("data versions: cannot listen (%s); reads ask the database", type(exc).__name__)
                    down = True
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            if down:
                log.info("data versions: listening again")
                down = False
            try:
                await self._listen(connection)
                reason = "its connection closed"
            except failures as exc:
                reason = f"{type(exc).__name__}: {exc}"
            log.warning("data versions: the listener stopped (%s); reads ask the database", reason)
            down = True
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self, connection: asyncpg.Connection) -> None:
        """Until the connection closes."""
        lost = asyncio.Event()

        def closed(_: object) -> None:
            self.forget()  # at once: no notification can come any more
            lost.set()

        try:
            connection.add_termination_listener(closed)
            await connection.add_listener(CHANNEL, self._notified)
            self.listening = True
            while not lost.is_set():
                async with asyncio.timeout(REFRESH_SECONDS):
                    await self._read_all(connection)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(REFRESH_SECONDS):
                        await lost.wait()
        finally:
            self.listening = False
            self.forget()
            connection.terminate()

    async def _read_all(self, connection: asyncpg.Connection) -> None:
        commits_before = self._commits
        rows = await connection.fetch(ALL_VERSIONS)
        known = {row["name"]: row["data_version"] for row in rows}
        for tenant, (version, commit) in list(self._awaited.items()):
            if commit <= commits_before or known.get(tenant) == version:
                del self._awaited[tenant]  # the snapshot is that commit's or later
            else:
                known.pop(tenant, None)  # committed while the snapshot was read: wait for its news
        self._known = known

    def _notified(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        tenant, _, version_text = payload.partition(" ")
        version = uuid.UUID(version_text) if version_text else None
        if version is not None:
            self._told.setdefault(tenant, deque(maxlen=8)).append(version)
        awaited = self._awaited.get(tenant)
        if awaited is not None:
            if version != awaited[0]:
                return  # news of an earlier commit, still on its way
            del self._awaited[tenant]
        if version is None:
            self._known.pop(tenant, None)
        else:
            self._known[tenant] = version


def record_written(session: AsyncSession, versions: Mapping[str, uuid.UUID]) -> None:
    """Note versions the session's transaction wrote: its commit tells them to the session's DataVersions."""
    session.info.setdefault(WRITTEN_KEY, {}).update(versions)


@event.listens_for(ScopedSession, "after_commit")
def _tell_committed(session: Session) -> None:
    written = session.info.pop(WRITTEN_KEY, None)
    versions: DataVersions | None = session.info.get(SESSION_KEY)
    if written and versions is not None:
        versions.committed(written)


@event.listens_for(ScopedSession, "after_rollback")
def _forget_written(session: Session) -> None:
    session.info.pop(WRITTEN_KEY, None)
