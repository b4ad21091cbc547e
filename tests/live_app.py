"""The app as the service runs it (its lifespan: the read pool, the data versions' listener), on
a database whose commits it sees: for tests of what only committed data shows."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from moviemanager.app import create_app, serving
from moviemanager.config import Settings

from .conftest import ADMIN
from .factories import catalog_csv, movie


@asynccontextmanager
async def running(settings: Settings, engine: AsyncEngine) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with serving(app, engine), httpx.AsyncClient(transport=transport, base_url="http://t", headers=ADMIN) as c:
        yield app, c


async def reload(client: httpx.AsyncClient, tenant: str, ids: list[int]) -> None:
    files = {"file": ("c.csv", catalog_csv([movie(i) for i in ids]), "text/csv")}
    response = await client.post("/reload", params={"tenant": tenant}, files=files)
    assert response.status_code == 200, response.text


async def stored_version(engine: AsyncEngine, tenant: str) -> uuid.UUID:
    async with engine.connect() as connection:
        return (
            await connection.execute(text("SELECT data_version FROM tenants WHERE name = :t"), {"t": tenant})
        ).one()[0]


async def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


class NoDatabase:
    """Reads that fail: what is answered anyway came from memory."""

    async def run(self, tenant, work, *, fresh=None):
        raise AssertionError("this read queried the database")
