"""`moviemanager serve --workers N`: the parent migrates and loads the defaults once, makes and
prints the admin token once; every worker answers, and none serves the old catalog once a
reload's news has arrived."""

import argparse
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from moviemanager.workers import worker_count

from .conftest import create_scratch_database, drop_database, dsn
from .factories import catalog_csv, movie
from .test_serve import free_port

# The news of another process's commit "arrives within milliseconds" (docs/api.md, data versions
# in memory); a second allows for a busy 2-core machine.
NOTIFICATION_WINDOW = 1.0
READS = 60


@pytest.fixture
async def empty_database(server_url):
    """A database with no table yet: the server's parent migrates it."""
    url = await create_scratch_database(server_url)
    yield url
    await drop_database(url)


@pytest.fixture
def two_workers(empty_database, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOVIEMANAGER_", "PROMETHEUS_"))}
    env |= {"DATABASE_URL": dsn(empty_database), "MOVIEMANAGER_DATA_DIR": str(tmp_path / "data")}
    log = (tmp_path / "serve.log").open("w+")
    command = [str(Path(sys.executable).with_name("moviemanager")), "serve", "--workers", "2", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"

    def output() -> str:
        log.seek(0)
        return log.read()

    try:
        deadline = time.monotonic() + 120
        while not _ready(base_url):
            assert process.poll() is None, output()
            assert time.monotonic() < deadline, output()
            time.sleep(0.2)
        yield base_url, tmp_path / "data", output
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=30) == 0, output()
        finally:
            process.kill()


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def read_ids(base_url: str, **headers: str) -> tuple[int, list[str], str]:
    """A fresh connection each time, so that either worker may answer."""
    response = httpx.get(f"{base_url}/movies", params={"tenant": "trending", "limit": 100}, headers=headers)
    ids = [m["tmdb_id"] for m in response.json()] if response.status_code == 200 else []
    return response.status_code, ids, response.headers.get("etag", "")


def read_at_once(base_url: str, count: int, **headers: str) -> list[tuple[int, list[str], str]]:
    """`count` reads, eight at a time: the kernel hands a sequence of connections to whichever worker
    is waiting, often the same one; concurrent ones reach both."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _: read_ids(base_url, **headers), range(count)))


def requests_by_worker(base_url: str) -> dict[str, float]:
    time.sleep(1.5)  # every worker samples its states each second
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(f"{base_url}/metrics").text)}
    return {s.labels["pid"]: s.value for s in families["moviemanager_process_requests"].samples}


@pytest.mark.database
def test_two_workers_share_one_start_and_never_serve_the_old_catalog_after_a_reload(two_workers):
    base_url, data_dir, output = two_workers
    assert output().count("Generated an admin token") == 1
    assert output().count("first start: loaded default tenants") == 1
    token = (data_dir / "admin_token").read_text().strip()

    old: list[tuple[int, list[str], str]] = []
    for _ in range(5):  # until each worker has answered, and so keeps the old page
        old += read_at_once(base_url, READS)
        answered = requests_by_worker(base_url)
        if len(answered) == 2 and all(count > 0 for count in answered.values()):
            break
    assert len(answered) == 2 and all(count > 0 for count in answered.values()), answered
    assert {status for status, _, _ in old} == {200} and len({etag for *_, etag in old}) == 1
    old_ids, old_etag = old[0][1], old[0][2]

    files = {"file": ("t.csv", catalog_csv([movie(i) for i in (1, 2, 3)]), "text/csv")}
    auth = {"Authorization": f"Bearer {token}"}
    reloaded = httpx.post(f"{base_url}/reload", params={"tenant": "trending"}, files=files, headers=auth)
    assert reloaded.status_code == 200, reloaded.text
    time.sleep(NOTIFICATION_WINDOW)
    after = read_at_once(base_url, READS) + read_at_once(base_url, READS, **{"If-None-Match": old_etag})
    for number, (status, ids, etag) in enumerate(after):
        assert (status, ids) == (200, ["1", "2", "3"]), (number, status, ids, old_ids)
        assert etag != old_etag

    time.sleep(1.5)  # every worker samples its states each second
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(f"{base_url}/metrics").text)}
    answered = {s.labels["pid"]: s.value for s in families["moviemanager_process_requests"].samples}
    assert len(answered) == 2 and all(count > 0 for count in answered.values()), answered
    listening = {s.labels["pid"]: s.value for s in families["moviemanager_data_versions_listening"].samples}
    assert listening == dict.fromkeys(answered, 1.0)
    reads = [
        s.value
        for s in families["moviemanager_http_requests"].samples
        if s.name.endswith("_total") and s.labels == {"route": "/movies", "method": "GET", "status": "200"}
    ]
    assert reads == [len(old) + len(after)]  # the workers' counts, added up


@pytest.mark.unit
def test_workers_auto_is_one_per_core_this_process_may_use():
    assert worker_count("auto") == len(os.sched_getaffinity(0))
    assert worker_count("3") == 3
    for wrong in ("0", "-1", "many"):
        with pytest.raises(argparse.ArgumentTypeError):
            worker_count(wrong)
