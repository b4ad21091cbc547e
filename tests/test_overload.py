"""Overload answers 503 with Retry-After, never a 500 and never a hang."""

import asyncio

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from moviemanager.app import create_app, serving
from moviemanager.db import app_url, create_sessionmaker


async def test_an_exhausted_pool_answers_503_within_the_pool_timeout(settings):
    url = app_url(settings.database_url, settings)
    engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessions = create_sessionmaker(engine, settings)
    try:
        async with engine.connect():  # the only connection, held by someone else
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                response = await asyncio.wait_for(client.get("/tenants"), timeout=5)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert "busy" in response.json()["detail"]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            assert (await client.get("/tenants")).status_code == 200  # and it recovers once freed
    finally:
        await engine.dispose()


async def test_an_exhausted_read_pool_answers_503_within_the_pool_timeout(settings, engine):
    app = create_app(settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout": 0.2}))
    async with (
        serving(app, engine),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        holding, release = asyncio.Event(), asyncio.Event()

        async def hold(connection):
            holding.set()
            await release.wait()

        # The only read connection, held by another read.
        held = asyncio.create_task(app.state.read_pool.run("someone", hold))
        await holding.wait()
        try:
            response = await asyncio.wait_for(client.get("/movies", params={"tenant": "nobody"}), timeout=5)
        finally:
            release.set()
            await held
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert "busy" in response.json()["detail"]
        # And it recovers once freed: no such tenant is a 404.
        assert (await client.get("/movies", params={"tenant": "nobody"})).status_code == 404
