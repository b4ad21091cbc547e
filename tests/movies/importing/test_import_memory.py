"""A big upload keeps the server's memory flat: measured on a real server process, not timed."""

import csv
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from ...conftest import ADMIN, ADMIN_TOKEN, migrated_database
from ...factories import HEADER, movie
from ...test_serve import free_port

ROWS = 200_000
ALLOWED_GROWTH_MIB = 40


def write_catalog(path: Path, rows: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=HEADER)
        writer.writeheader()
        for i in range(1, rows + 1):
            writer.writerow(movie(i, Overview=f"Dòng {i}: một câu chuyện dài,\nviết trên hai dòng."))
    return path


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), or 0 once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), "0")
    return int(kib) / 1024  # 0 for a process already exiting, whose status has no VmHWM line


class PeakWatcher(threading.Thread):
    """Samples the peak memory of the server's child processes (the CSV parsers) while they run."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            for child in _children(self.pid):
                self.peak = max(self.peak, peak_rss_mib(child))


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.fixture
async def own_database(server_url):
    """A database of this test's own: the server commits, and other tests must not see it."""
    async with migrated_database(server_url) as url:
        yield url


@pytest.fixture
def server(own_database, tmp_path):
    database_url = own_database
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVIEMANAGER_")}
    env |= {
        "DATABASE_URL": database_url.set(drivername="postgresql").render_as_string(hide_password=False),
        "MOVIEMANAGER_LOAD_DEFAULTS": "false",
        "MOVIEMANAGER_LOG_LEVEL": "warning",
        "MOVIEMANAGER_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    executable = str(Path(sys.executable).with_name("moviemanager"))
    log = (tmp_path / "serve.log").open("w+")
    process = subprocess.Popen([executable, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    yield process, base_url
    process.terminate()
    process.wait(timeout=30)


def upload(base_url: str, tenant: str, path: Path) -> dict:
    with path.open("rb") as file:
        response = httpx.post(
            f"{base_url}/reload",
            params={"tenant": tenant},
            files={"file": (path.name, file, "text/csv")},
            headers=ADMIN,
            timeout=300,
        )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_200k_row_upload_keeps_the_server_memory_flat(server, tmp_path):
    process, base_url = server
    small = write_catalog(tmp_path / "small.csv", ROWS // 10)
    big = write_catalog(tmp_path / "big.csv", ROWS)

    assert upload(base_url, "warmup", small)["loaded"] == ROWS // 10
    after_small = peak_rss_mib(process.pid)

    watcher = PeakWatcher(process.pid)
    watcher.start()
    assert upload(base_url, "big", big)["loaded"] == ROWS
    watcher.done.set()
    watcher.join()
    after_big = peak_rss_mib(process.pid)

    print(f"server peak RSS: {after_small:.0f} MiB after {ROWS // 10:,} rows, {after_big:.0f} MiB after {ROWS:,}")
    print(f"parser process peak RSS: {watcher.peak:.0f} MiB ({big.stat().st_size / 2**20:.0f} MiB file)")
    assert after_big - after_small < ALLOWED_GROWTH_MIB
    assert watcher.peak < 150  # the parser streams too: far below the file's size
