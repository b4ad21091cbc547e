"""The zero-setup path: with no DATABASE_URL the server starts an embedded PostgreSQL, migrates,
loads the default tenants, stops cleanly, and keeps its data for the next start."""

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .factories import catalog_csv, movie

DEFAULT_TENANTS = ["movies", "trending", "tv_serials"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, *command: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("MOVIEMANAGER_")}
        env["MOVIEMANAGER_DATA_DIR"] = str(data_dir)
        executable = str(Path(sys.executable).with_name(command[0]))
        self.log = (data_dir.parent / f"serve-{self.port}.log").open("w+")
        self.process = subprocess.Popen(
            [executable, *command[1:], "--port", str(self.port)], env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"server not ready within {timeout}s:\n{self.output()}")

    def stop(self, sig: signal.Signals) -> None:
        """Send the signal; the server must shut down gracefully (uvicorn then re-raises the signal)."""
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"server did not stop on {sig.name}:\n{self.output()}")
        assert code in (0, -sig), self.output()
        assert "Application shutdown complete" in self.output()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()


@pytest.mark.database
def test_serve_starts_embedded_postgres_and_keeps_data_across_restarts(tmp_path):
    """First start with `moviemanager serve`, the second with plain uvicorn: same behaviour."""
    data_dir = tmp_path / "data"
    pgdata = data_dir / "pgdata"

    first = Server(data_dir, "moviemanager", "serve")
    try:
        first.wait_ready()
        assert httpx.get(f"{first.base_url}/tenants").json() == DEFAULT_TENANTS
        movies = httpx.get(f"{first.base_url}/movies", params={"tenant": "movies"}).json()
        assert len(movies) >= 15
        files = {"file": ("mine.csv", catalog_csv([movie(1), movie(2)]))}
        anonymous = httpx.post(f"{first.base_url}/reload", params={"tenant": "mine"}, files=files)
        assert anonymous.status_code == 401
        # The generated admin token: kept private in the data directory, printed once.
        token_file = data_dir / "admin_token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert token in first.output()
        uploaded = httpx.post(
            f"{first.base_url}/reload",
            params={"tenant": "mine"},
            files=files,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert uploaded.status_code == 200
    finally:
        first.stop(signal.SIGTERM)
    assert (pgdata / "PG_VERSION").exists()
    assert not (pgdata / "postmaster.pid").exists(), "embedded PostgreSQL still running after SIGTERM"

    second = Server(data_dir, "uvicorn", "moviemanager.main:app")
    try:
        second.wait_ready()
        assert httpx.get(f"{second.base_url}/tenants").json() == sorted(DEFAULT_TENANTS + ["mine"])
        again = httpx.get(f"{second.base_url}/movies", params={"tenant": "mine"}).json()
        assert [m["tmdb_id"] for m in again] == ["1", "2"]
    finally:
        second.stop(signal.SIGINT)
    assert not (pgdata / "postmaster.pid").exists()
    assert "first start: loaded default tenants" not in second.output()
    assert token not in second.output()
