"""Read replicas (replicas.py, read_pool.py) against a real streaming-replication standby of the
tests' PostgreSQL: reads go to it while it keeps up, never fail because of it, and never show a
catalog older than the one this process knows."""

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from moviemanager.config import Settings
from moviemanager.db import create_sessionmaker
from moviemanager.read_pool import ReadPool
from moviemanager.replicas import CHECKER_NAME, Positions
from moviemanager.tenants.versions import DataVersions
from moviemanager.uow import UnitOfWork

from .live_app import eventually, reload, running, stored_version
from .standby import Standby

needs_standby = pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")),
    reason="the standby is a pg_basebackup of the embedded test server, made with its binaries;"
    " TEST_DATABASE_URL names another server",
)

IN_RECOVERY = "SELECT pg_is_in_recovery()"


@pytest.fixture(scope="module")
async def standby(server_url: URL, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Standby]:
    standby = Standby(server_url, tmp_path_factory.mktemp("standby"))
    await asyncio.to_thread(standby.create)
    await asyncio.to_thread(standby.start)
    try:
        yield standby
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(standby.stop)
        await standby.drop_slot()


@pytest.fixture(scope="module")
def replica_settings(own_settings: Settings, standby: Standby) -> Settings:
    database = make_url(own_settings.database_url).database
    url = standby.url(database).render_as_string(hide_password=False)
    return own_settings.model_copy(update={"read_replica_urls": [url], "replica_max_lag_s": 2.0})


@pytest.fixture
async def standby_up(standby: Standby) -> AsyncIterator[Standby]:
    """The standby running and replaying, before and after the test."""
    yield standby
    if not (standby.pgdata / "postmaster.pid").exists():
        await asyncio.to_thread(standby.start)
    await standby.execute("SELECT pg_wal_replay_resume()")


async def add_tenant(owner_engine: AsyncEngine) -> str:
    tenant = f"replica_{uuid.uuid4().hex[:8]}"
    async with owner_engine.begin() as connection:
        await connection.execute(text("INSERT INTO tenants (name) VALUES (:t)"), {"t": tenant})
    return tenant


async def new_version(owner_engine: AsyncEngine, tenant: str) -> uuid.UUID:
    async with owner_engine.begin() as connection:
        statement = text("UPDATE tenants SET data_version = gen_random_uuid() WHERE name = :t RETURNING data_version")
        return (await connection.execute(statement, {"t": tenant})).scalar_one()


async def until_state(pool: ReadPool, state: str, seconds: float = 30.0) -> None:
    """Check (as the monitor would) until the standby is in `state`."""
    async with asyncio.timeout(seconds):
        while pool.replica_states()[0].state != state:
            await pool.replicas.check()
            await asyncio.sleep(0.1)


async def version_and_server(connection) -> tuple[uuid.UUID, bool]:
    row = await connection.fetchrow(
        "SELECT (SELECT data_version FROM tenants WHERE name = current_setting('app.tenant')), pg_is_in_recovery()"
    )
    return row[0], row[1]


@needs_standby
async def test_a_read_that_can_tell_a_current_answer_runs_on_the_standby(replica_settings, own_engine, standby_up):
    pool = await ReadPool.open(own_engine, replica_settings, watch_replicas=False)
    try:
        await until_state(pool, "ok")
        assert await pool.run("any", lambda c: c.fetchval(IN_RECOVERY), fresh=lambda _: True) is True
        assert await pool.run("any", lambda c: c.fetchval(IN_RECOVERY)) is False  # no way to tell: the primary
        [state] = pool.replica_states()
        assert state.name == "replica-1" and state.lag_seconds == 0.0
        assert "moviemanager_app@" in state.url
    finally:
        await pool.close()


@needs_standby
async def test_equally_busy_standbys_take_turns_and_the_least_busy_answers_first(
    replica_settings, own_engine, standby_up
):
    twice = replica_settings.model_copy(update={"read_replica_urls": replica_settings.read_replica_urls * 2})
    pool = await ReadPool.open(own_engine, twice, watch_replicas=False)
    try:
        async with asyncio.timeout(30):
            while [state.state for state in pool.replica_states()] != ["ok", "ok"]:
                await pool.replicas.check()
                await asyncio.sleep(0.1)
        firsts = [pool.replicas.candidates()[0].name for _ in range(4)]
        assert firsts in (["replica-1", "replica-2"] * 2, ["replica-2", "replica-1"] * 2)
        busy, idle = pool.replicas.replicas
        with busy.serving():
            assert [replica.name for replica in pool.replicas.candidates()] == [idle.name, busy.name]
            assert [replica.name for replica in pool.replicas.candidates()] == [idle.name, busy.name]
    finally:
        await pool.close()


@needs_standby
async def test_an_answer_older_than_the_known_version_is_read_again_from_the_primary(
    replica_settings, own_engine, own_owner_engine, standby_up
):
    tenant = await add_tenant(own_owner_engine)
    pool = await ReadPool.open(own_engine, replica_settings, watch_replicas=False)
    try:
        await until_state(pool, "ok")
        await standby_up.execute("SELECT pg_wal_replay_pause()")
        current = await new_version(own_owner_engine, tenant)
        # The monitor has not looked since: the standby is still taken, and answers the old version.
        assert pool.replicas.candidates()
        version, on_standby = await pool.run(tenant, version_and_server, fresh=lambda answer: answer[0] == current)
        assert (version, on_standby) == (current, False)
    finally:
        await pool.close()


@needs_standby
async def test_a_paused_standby_is_skipped_until_it_replays_again(
    replica_settings, own_engine, own_owner_engine, standby_up
):
    tenant = await add_tenant(own_owner_engine)
    pool = await ReadPool.open(own_engine, replica_settings, watch_replicas=False)
    try:
        await until_state(pool, "ok")
        await standby_up.execute("SELECT pg_wal_replay_pause()")
        await new_version(own_owner_engine, tenant)  # WAL the standby has not replayed
        await until_state(pool, "paused")
        assert pool.replicas.candidates() == []
        assert await pool.run(tenant, lambda c: c.fetchval(IN_RECOVERY), fresh=lambda _: True) is False
        await asyncio.sleep(2.5)
        assert pool.replica_states()[0].lag_seconds is not None
        await pool.replicas.check()
        assert pool.replica_states()[0].lag_seconds > 2.0
        await standby_up.execute("SELECT pg_wal_replay_resume()")
        await until_state(pool, "ok")
        assert await pool.run(tenant, lambda c: c.fetchval(IN_RECOVERY), fresh=lambda _: True) is True
    finally:
        await pool.close()


@needs_standby
async def test_a_standby_further_behind_than_the_limit_is_skipped_until_it_catches_up(
    replica_settings, own_engine, own_owner_engine, standby_up
):
    tenant = await add_tenant(own_owner_engine)
    pool = await ReadPool.open(own_engine, replica_settings, watch_replicas=False)
    try:
        await until_state(pool, "ok")
        await asyncio.sleep(3)  # an idle primary: nothing is behind, however old the last commit
        await pool.replicas.check()
        assert (pool.replica_states()[0].state, pool.replica_states()[0].lag_seconds) == ("ok", 0.0)

        await standby_up.execute("ALTER SYSTEM SET recovery_min_apply_delay = '5s'")
        await standby_up.execute("SELECT pg_reload_conf()")
        await new_version(own_owner_engine, tenant)  # its commit applied on the standby 5 s later
        await until_state(pool, "lagging")
        assert pool.replica_states()[0].lag_seconds > replica_settings.replica_max_lag_s
        assert await pool.run(tenant, lambda c: c.fetchval(IN_RECOVERY), fresh=lambda _: True) is False
        await until_state(pool, "ok")  # the delayed commit applied: caught up
        assert await pool.run(tenant, lambda c: c.fetchval(IN_RECOVERY), fresh=lambda _: True) is True
    finally:
        await standby_up.execute("ALTER SYSTEM RESET recovery_min_apply_delay")
        await standby_up.execute("SELECT pg_reload_conf()")
        await pool.close()


@needs_standby
async def test_a_read_only_unit_of_work_opens_on_the_standby_only_at_the_known_version(
    replica_settings, own_engine, own_owner_engine, standby_up
):
    tenant = await add_tenant(own_owner_engine)
    versions = DataVersions()
    pool = await ReadPool.open(own_engine, replica_settings, versions=versions, watch_replicas=False)
    sessions = create_sessionmaker(own_engine, replica_settings)

    async def served_by_standby(*, replica: bool = True) -> bool:
        uow = UnitOfWork(sessions, replicas=pool.replicas)
        async with uow.for_tenant(tenant, read_only_snapshot=True, replica=replica):
            return await uow.session.scalar(text(IN_RECOVERY))

    try:
        await until_state(pool, "ok")
        assert await served_by_standby() is False  # the version is not known here
        versions._notified(None, 0, "", f"{tenant} {await stored_version(own_engine, tenant)}")
        assert await served_by_standby() is True
        assert await served_by_standby(replica=False) is False  # a unit that may write

        uow = UnitOfWork(sessions, replicas=pool.replicas)

        async def read_losing_the_standby() -> bool:
            async with uow.for_tenant(tenant, read_only_snapshot=True, replica=True):
                if await uow.session.scalar(text(IN_RECOVERY)):
                    await uow.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
                return await uow.session.scalar(text(IN_RECOVERY))

        assert await uow.reading(read_losing_the_standby) is False  # read again on the primary

        await standby_up.execute("SELECT pg_wal_replay_pause()")
        versions._notified(None, 0, "", f"{tenant} {await new_version(own_owner_engine, tenant)}")
        assert await served_by_standby() is False  # the standby has the older version
    finally:
        await pool.close()


@needs_standby
async def test_pages_come_from_the_standby_and_a_reload_shows_on_the_next_read(
    replica_settings, own_engine, standby_up
):
    async with running(replica_settings, own_engine) as (app, client):
        tenant = f"replica_{uuid.uuid4().hex[:8]}"
        await reload(client, tenant, [1, 2])
        versions = app.state.caches.versions
        await eventually(lambda: versions.get(tenant) is not None)
        await eventually(lambda: app.state.read_pool.replica_states()[0].state == "ok")
        response = await client.get("/movies", params={"tenant": tenant})
        assert [m["tmdb_id"] for m in response.json()] == ["1", "2"]
        served = await standby_up.execute(
            f"SELECT count(*) FROM pg_stat_activity WHERE usename = 'moviemanager_app'"
            f" AND application_name <> '{CHECKER_NAME}' AND query LIKE '%json_build_object%'"
        )
        assert served >= 1  # the page's statement ran on the standby

        await standby_up.execute("SELECT pg_wal_replay_pause()")
        for ids in ([3], [4, 5]):
            await reload(client, tenant, ids)
            for _ in range(20):  # before and after the notification arrives, and the monitor looks
                listed = [m["tmdb_id"] for m in (await client.get("/movies", params={"tenant": tenant})).json()]
                assert listed == [str(i) for i in ids]
                movie = await client.get(f"/movies/{ids[0]}", params={"tenant": tenant})
                assert movie.status_code == 200
                facets = await client.get("/movies/facets", params={"tenant": tenant})
                assert facets.json()["total"] == len(ids)
                exported = await client.get("/movies.csv", params={"tenant": tenant})
                assert len(exported.text.strip().splitlines()) == 1 + len(ids)
                await asyncio.sleep(0.05)
        readiness = (await client.get("/readyz")).json()
        assert readiness["replicas"][0]["state"] in ("ok", "paused")
        await eventually(lambda: app.state.read_pool.replica_states()[0].state == "paused")
        assert (await client.get("/readyz")).json()["replicas"][0]["state"] == "paused"
        name = app.state.read_pool.replica_states()[0].name
        scraped = (await client.get("/metrics")).text
        assert f'moviemanager_replica_serving{{replica="{name}"}} 0.0' in scraped
        assert f'moviemanager_replica_lag_seconds{{replica="{name}"}}' in scraped
        assert await stored_version(own_engine, tenant) == versions.get(tenant)


@needs_standby
async def test_a_stopped_standby_costs_no_failed_read(replica_settings, own_engine, standby_up):
    async with running(replica_settings, own_engine) as (app, client):
        tenant = f"replica_{uuid.uuid4().hex[:8]}"
        await reload(client, tenant, [7])
        await eventually(lambda: app.state.caches.versions.get(tenant) is not None)
        await eventually(lambda: app.state.read_pool.replica_states()[0].state == "ok")
        first = await client.get("/movies/7", params={"tenant": tenant})
        assert first.status_code == 200
        await asyncio.to_thread(standby_up.stop)
        for page in range(30):  # a new body each time (a page not kept yet), while the monitor notices
            response = await client.get("/movies", params={"tenant": tenant, "limit": 100 + page})
            assert response.status_code == 200, response.text
            for path in ("/movies/facets", "/movies.csv", "/categories", "/genres"):
                assert (await client.get(path, params={"tenant": tenant})).status_code == 200, path
            await asyncio.sleep(0.05)
        await eventually(lambda: app.state.read_pool.replica_states()[0].state == "down")
        readiness = await client.get("/readyz")
        assert readiness.status_code == 200
        assert readiness.json()["replicas"][0]["state"] == "down"
        await asyncio.to_thread(standby_up.start)
        await eventually(lambda: app.state.read_pool.replica_states()[0].state == "ok", seconds=30)


def test_lag_is_the_time_since_the_primary_first_passed_the_replayed_position(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("moviemanager.replicas.time.monotonic", lambda: now[0])
    positions = Positions(keep_seconds=60)
    positions.add(1000)
    now[0] = 101.0
    positions.add(1000)  # an idle primary: nothing new
    assert positions.lag(1000) == 0.0
    now[0] = 102.0
    positions.add(2000)
    now[0] = 105.0
    positions.add(3000)
    assert positions.lag(3000) == 0.0
    assert positions.lag(1500) == 3.0  # the primary passed 1500 at 102
    assert positions.lag(2500) == 0.0  # passed 2500 at 105: just now
    positions.add(None)
    assert positions.lag(1500) is None  # the primary did not answer: unknown


def test_replica_urls_are_read_as_a_json_list_or_separated_by_commas(monkeypatch):
    monkeypatch.setenv("MOVIEMANAGER_READ_REPLICA_URLS", "postgresql://r1/db, postgresql://r2/db")
    assert Settings().read_replica_urls == ["postgresql://r1/db", "postgresql://r2/db"]
    monkeypatch.setenv("MOVIEMANAGER_READ_REPLICA_URLS", '["postgresql://r1/db?options=a,b"]')
    assert Settings().read_replica_urls == ["postgresql://r1/db?options=a,b"]
    monkeypatch.delenv("MOVIEMANAGER_READ_REPLICA_URLS")
    assert Settings().read_replica_urls == []
