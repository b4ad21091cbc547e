"""The yardstick of bench/read.py: GET /movies/{tmdb_id} in as little Python as a web endpoint can be.

A bare ASGI callable under uvicorn, one asyncpg pool, one prepared query, the stored JSONB sent as
PostgreSQL renders it (no decoding, no model, no framework). Tenant from the X-Tenant header.

    DATABASE_URL=postgresql://… uv run uvicorn read_baseline:app --app-dir bench --port 8001
"""

import os

import asyncpg

QUERY = "SELECT data::text FROM movies WHERE tenant = $1 AND tmdb_id = $2"
POOL_SIZE = int(os.environ.get("BASELINE_POOL_SIZE", "10"))
JSON_HEADERS = [(b"content-type", b"application/json")]

state: dict[str, asyncpg.Pool] = {}


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    tenant = next((value.decode() for name, value in scope["headers"] if name == b"x-tenant"), "")
    tail = scope["path"].removeprefix("/movies/")
    body = None
    if tail.isdigit() and tail != scope["path"]:
        body = await state["pool"].fetchval(QUERY, tenant, int(tail))
    if body is None:
        await send({"type": "http.response.start", "status": 404, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": b'{"detail":"Movie not found"}'})
        return
    await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body.encode()})


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            state["pool"] = await asyncpg.create_pool(
                os.environ["DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE
            )
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await state["pool"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return
