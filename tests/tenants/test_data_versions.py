"""The tenants' data versions in memory (tenants/versions.py): told by PostgreSQL's notifications,
they spare 304s and cached bodies their query, and are never older than this process's own commits.

The listener needs committed data, so these tests run the app as the service does, on a database
of this module's own."""

import asyncio
import contextlib
import uuid

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from moviemanager.app import create_app, serving
from moviemanager.tenants.versions import LISTENER_NAME, DataVersions

from ..conftest import ADMIN
from ..live_app import NoDatabase, eventually, reload, running, stored_version

V1, V2, V3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def notify(versions: DataVersions, payload: str) -> None:
    versions._notified(None, 0, "moviemanager_data_versions", payload)


def test_a_notification_sets_the_version_and_a_removal_forgets_it():
    versions = DataVersions()
    assert versions.get("a") is None
    notify(versions, f"a {V1}")
    notify(versions, f"a {V2}")
    assert versions.get("a") == V2
    notify(versions, "a")
    assert versions.get("a") is None


def test_an_own_commit_hides_the_version_until_its_own_news_arrives():
    versions = DataVersions()
    notify(versions, f"a {V1}")
    notify(versions, f"b {V1}")
    versions.committed({"a": V3})
    assert versions.get("a") is None
    notify(versions, f"a {V2}")  # an earlier commit's news, still on its way
    assert versions.get("a") is None
    notify(versions, f"a {V3}")
    assert versions.get("a") == V3
    assert versions.get("b") == V1


def test_an_own_commit_whose_news_came_first_stays_known():
    versions = DataVersions()
    notify(versions, f"a {V1}")
    versions.committed({"a": V1})
    assert versions.get("a") == V1


def test_forgetting_empties_the_map():
    versions = DataVersions()
    notify(versions, f"a {V1}")
    versions.forget()
    assert versions.get("a") is None


async def test_a_database_that_stays_down_is_warned_of_once(monkeypatch, caplog):
    monkeypatch.setattr("moviemanager.tenants.versions.RECONNECT_SECONDS", 0.001)
    attempts = 0

    async def refused() -> asyncpg.Connection:
        nonlocal attempts
        attempts += 1
        raise ConnectionRefusedError("the database is down")

    watcher = asyncio.create_task(DataVersions().watch(refused))
    await eventually(lambda: attempts >= 20)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    warnings = [r for r in caplog.records if r.name == "moviemanager.tenants.versions" and r.levelname == "WARNING"]
    assert len(warnings) == 1


async def test_known_versions_answer_304s_and_cached_bodies_without_a_query(own_settings, own_engine):
    async with running(own_settings, own_engine) as (app, client):
        await reload(client, "mem", [1, 2, 3])
        versions = app.state.caches.versions
        await eventually(lambda: versions.get("mem") is not None)
        assert versions.get("mem") == await stored_version(own_engine, "mem")
        page = await client.get("/movies", params={"tenant": "mem", "limit": 2})
        one = await client.get("/movies/2", params={"tenant": "mem"})
        assert page.status_code == one.status_code == 200

        app.state.read_pool = NoDatabase()
        again = await client.get("/movies", params={"tenant": "mem", "limit": 2})
        assert (again.status_code, again.content, again.headers["etag"]) == (200, page.content, page.headers["etag"])
        assert again.headers["link"] == page.headers["link"]
        assert (await client.get("/movies/2", params={"tenant": "mem"})).content == one.content
        for earlier, params in ((page, {"limit": 2}), (one, {})):
            headers = {"If-None-Match": earlier.headers["etag"]}
            response = await client.get(earlier.url.path, params={"tenant": "mem", **params}, headers=headers)
            assert response.status_code == 304, earlier.url
        with pytest.raises(AssertionError, match="queried the database"):
            await client.get("/movies/3", params={"tenant": "mem"})  # not cached yet


async def test_after_a_reload_here_the_old_etag_is_never_current(own_settings, own_engine, monkeypatch):
    app = create_app(own_settings)
    versions = app.state.caches.versions
    held: list[tuple] = []  # notifications, delivered late: when the test says
    deliver = versions._notified
    monkeypatch.setattr(versions, "_notified", lambda *notification: held.append(notification))

    def released() -> DataVersions:
        while held:
            deliver(*held.pop(0))
        return versions

    transport = httpx.ASGITransport(app=app)
    async with (
        serving(app, own_engine),
        httpx.AsyncClient(transport=transport, base_url="http://t", headers=ADMIN) as client,
    ):
        await reload(client, "own", [1])
        await eventually(lambda: released().get("own") is not None)
        for ids in ([1, 2], [1, 2, 3], [2]):
            before = await client.get("/movies", params={"tenant": "own"})
            await reload(client, "own", ids)
            after = await client.get(
                "/movies", params={"tenant": "own"}, headers={"If-None-Match": before.headers["etag"]}
            )
            assert after.status_code == 200
            assert [m["tmdb_id"] for m in after.json()] == [str(i) for i in ids]
            stored = await stored_version(own_engine, "own")
            await eventually(lambda: released().get("own") == stored)  # noqa: B023 (awaited here)


async def test_a_change_committed_elsewhere_reaches_the_map(own_settings, own_engine, own_owner_engine):
    async with running(own_settings, own_engine) as (app, client):
        await reload(client, "elsewhere", [1])
        versions = app.state.caches.versions
        await eventually(lambda: versions.get("elsewhere") is not None)
        old = await client.get("/movies", params={"tenant": "elsewhere"})
        async with own_owner_engine.begin() as connection:
            await connection.execute(
                text("UPDATE tenants SET data_version = gen_random_uuid() WHERE name = 'elsewhere'")
            )
        new_version = await stored_version(own_engine, "elsewhere")
        await eventually(lambda: versions.get("elsewhere") == new_version)
        response = await client.get(
            "/movies", params={"tenant": "elsewhere"}, headers={"If-None-Match": old.headers["etag"]}
        )
        assert response.status_code == 200
        assert response.headers["etag"] != old.headers["etag"]


async def test_a_lost_listener_forgets_everything_and_catches_up_when_back(own_settings, own_engine, own_owner_engine):
    async with running(own_settings, own_engine) as (app, client):
        await reload(client, "lost", [1])
        versions = app.state.caches.versions
        await eventually(lambda: versions.get("lost") is not None)
        async with own_owner_engine.begin() as connection:
            terminated = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :name"
                    " AND datname = current_database()"
                ),
                {"name": LISTENER_NAME},
            )
            assert terminated == 1
            await connection.execute(text("UPDATE tenants SET data_version = gen_random_uuid() WHERE name = 'lost'"))
        await eventually(lambda: versions.get("lost") is None, seconds=5)
        new_version = await stored_version(own_engine, "lost")
        await eventually(lambda: versions.get("lost") == new_version)  # reconnected, read again
        response = await client.get("/movies", params={"tenant": "lost"})
        assert response.status_code == 200


async def test_with_listening_off_every_read_asks_the_database(own_settings, own_engine):
    async with running(own_settings.model_copy(update={"listen_data_versions": False}), own_engine) as (app, client):
        await reload(client, "off", [1])
        await asyncio.sleep(0.2)
        assert app.state.caches.versions.get("off") is None
        app.state.read_pool = NoDatabase()
        with pytest.raises(AssertionError, match="queried the database"):
            await client.get("/movies", params={"tenant": "off"})
