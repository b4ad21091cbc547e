"""The project's server as a subprocess (`moviemanager serve`), its memory read from /proc, uploads to it,
and a reader thread that lists a tenant while it works, with latency percentiles."""

import math
import os
import signal
import socket
import subprocess
import threading
import time
from itertools import count
from pathlib import Path
from typing import Any

import httpx
from harness import Bench, mib, tail

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT = 120.0
# The server under test gets this admin token; uploads send it (writes need a bearer token).
BENCH_ADMIN_TOKEN = "bench-admin-token-not-a-secret"


# ---------------------------------------------------------------- processes: ports, RSS, environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc/<pid>/stat of every process."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, …
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children


def python_descendant(pid: int) -> int | None:
    """The first Python process under `pid` (`uv run` starts the interpreter as its child)."""
    pending = [pid]
    while pending:
        current = pending.pop(0)
        try:
            if os.readlink(f"/proc/{current}/exe").rsplit("/", 1)[-1].startswith("python"):
                return current
        except OSError:
            pass
        pending += child_pids(current)
    return None


def memory_kib(pid: int, field_name: str) -> int | None:
    """A Vm* field of /proc/<pid>/status in KiB: VmHWM is the peak resident set, VmRSS the current one."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def project_env(bench: Bench, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": bench.sql_url,
        "MOVIEMANAGER_LOAD_DEFAULTS": "false",
        "MOVIEMANAGER_ADMIN_TOKEN": BENCH_ADMIN_TOKEN,
        **extra,
    }


# ---------------------------------------------------------------- the server, uploads and readers


class Server:
    """`uv run moviemanager serve` in its own process group, healthy on entry, stopped on exit."""

    def __init__(self, bench: Bench, log_name: str) -> None:
        self.bench = bench
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = bench.workdir / log_name
        self.process: subprocess.Popen[bytes] | None = None
        self.python_pid: int | None = None

    def __enter__(self) -> "Server":
        command = ["uv", "run", "--no-sync", "moviemanager", "serve", "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=project_env(self.bench, MOVIEMANAGER_LOG_LEVEL="warning"),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        self.python_pid = python_descendant(self.process.pid)
        print(
            f"server up at {self.base_url} (uv pid {self.process.pid}, python pid {self.python_pid}, "
            f"RSS {mib(self.memory_kib('VmRSS'))})",
            flush=True,
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with code {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not healthy after {SERVER_START_TIMEOUT:.0f} s: {self.log_tail()}")

    def memory_kib(self, field_name: str) -> int | None:
        return memory_kib(self.python_pid, field_name) if self.python_pid else None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self) -> str:
        return tail(self.log_path.read_text(errors="replace"))


def upload(server: Server, tenant: str, path: Path) -> tuple[float, dict[str, Any]]:
    """POST /reload with the file streamed from disk; (wall seconds, response JSON)."""
    started = time.perf_counter()
    with path.open("rb") as catalog:
        response = httpx.post(
            f"{server.base_url}/reload",
            params={"tenant": tenant},
            files={"file": ("movies.csv", catalog, "text/csv")},
            headers={"Authorization": f"Bearer {BENCH_ADMIN_TOKEN}"},
            timeout=None,
        )
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(
            f"POST /reload?tenant={tenant} answered {response.status_code}: {response.text[:2000]}\n"
            f"server log:\n{server.log_tail()}"
        )
    return seconds, response.json()


class Reader(threading.Thread):
    """Lists a tenant's movies in a loop until stopped, recording each request's latency."""

    def __init__(self, server: Server, tenant: str, rows: int, pause: float) -> None:
        super().__init__(daemon=True)
        self.url = f"{server.base_url}/movies"
        self.tenant = tenant
        self.pages = max(1, min(rows, 10_000) // 20)
        self.pause = pause
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=60) as client:
            for number in count():
                if self._stop_event.is_set():
                    return
                self._one_request(client, number)
                self._stop_event.wait(self.pause)

    def _one_request(self, client: httpx.Client, number: int) -> None:
        """Even requests page through the first 10,000 movies, odd ones filter by a year of 1920–2026."""
        params: dict[str, Any] = {"tenant": self.tenant, "limit": 20}
        if number % 2:
            params["year"] = 1920 + number * 13 % 107
        else:
            params["offset"] = number * 37 % self.pages * 20
        started = time.perf_counter()
        try:
            response = client.get(self.url, params=params)
            if response.status_code != 200:
                self.failures.append(f"{response.status_code}: {response.text[:200]}")
        except httpx.HTTPError as exc:
            self.failures.append(repr(exc))
        self.latencies.append(time.perf_counter() - started)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def summary(self) -> dict[str, Any]:
        return {
            "requests": len(self.latencies),
            "failures": len(self.failures),
            "first_failure": self.failures[0] if self.failures else None,
            "p50_ms": percentile(self.latencies, 50) * 1000 if self.latencies else None,
            "p99_ms": percentile(self.latencies, 99) * 1000 if self.latencies else None,
            "max_ms": max(self.latencies) * 1000 if self.latencies else None,
        }


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * pct / 100)) - 1]
