"""The issue's yardstick as its "Why" measured it: GET /movies/{tmdb_id} as a minimal FastAPI endpoint
over one asyncpg pool (no ORM, no model: the stored JSONB sent as PostgreSQL renders it).

    DATABASE_URL=postgresql://… uv run uvicorn read_baseline_fastapi:app --app-dir bench --port 8002
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import asyncpg
from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse

QUERY = "SELECT data::text FROM movies WHERE tenant = $1 AND tmdb_id = $2"
POOL_SIZE = int(os.environ.get("BASELINE_POOL_SIZE", "10"))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE) as pool:
        app.state.pool = pool
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/movies/{tmdb_id}")
async def get_movie(request: Request, tmdb_id: int, x_tenant: Annotated[str, Header()]) -> Response:
    body = await request.app.state.pool.fetchval(QUERY, x_tenant, tmdb_id)
    if body is None:
        return JSONResponse({"detail": "Movie not found"}, status_code=404)
    return Response(body, media_type="application/json")
