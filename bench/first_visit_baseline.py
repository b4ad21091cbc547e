"""The plain JSONB endpoint of bench/first_visits.py: GET /movies and GET /movies/{tmdb_id} as a minimal
FastAPI app over one asyncpg pool, running the obvious queries on `plain_movies` (tenant, tmdb_id, data:
the same documents as `movies`), which has its primary key, a GIN (jsonb_path_ops) index on the
document and a trigram index on the title. The page is the documents as PostgreSQL renders them.

    DATABASE_URL=postgresql://… uv run uvicorn first_visit_baseline:app --app-dir bench --port 8003

Parameters: genre (a name as written; `a|b`: any of them), year, year_from, year_to, rating_gte,
runtime_lte, q (a piece of the title, any case), sort (tmdb_id, -rating, year, -year), offset, limit.
"""

import json
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from read_baseline_fastapi import lifespan

MOVIE = "SELECT data::text FROM plain_movies WHERE tenant = $1 AND tmdb_id = $2"
ORDER = {
    "tmdb_id": "tmdb_id",
    "-rating": "(data ->> 'rating')::numeric DESC NULLS LAST, tmdb_id",
    "year": "(data ->> 'year')::int NULLS LAST, tmdb_id",
    "-year": "(data ->> 'year')::int DESC NULLS LAST, tmdb_id",
}


app = FastAPI(lifespan=lifespan)  # one asyncpg pool, as bench/read.py's FastAPI yardstick


@app.get("/movies")
async def list_movies(
    request: Request,
    x_tenant: Annotated[str, Header()],
    genre: str | None = None,
    year: int | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
    rating_gte: Decimal | None = None,
    runtime_lte: int | None = None,
    q: str | None = None,
    sort: Literal["tmdb_id", "-rating", "year", "-year"] = "tmdb_id",
    offset: int = 0,
    limit: int = 20,
) -> Response:
    values: list[object] = [x_tenant]

    def bind(value: object) -> str:
        values.append(value)
        return f"${len(values)}"

    conditions = ["tenant = $1"]
    contained: dict[str, object] = {}
    if genre and "|" in genre:
        tests = [f"data @> {bind(json.dumps({'genres': [name]}))}::jsonb" for name in genre.split("|")]
        conditions.append("(" + " OR ".join(tests) + ")")
    elif genre:
        contained["genres"] = [genre]
    if year is not None:
        contained["year"] = year
    if contained:
        conditions.append(f"data @> {bind(json.dumps(contained))}::jsonb")
    if year_from is not None:
        conditions.append(f"(data ->> 'year')::int >= {bind(year_from)}")
    if year_to is not None:
        conditions.append(f"(data ->> 'year')::int <= {bind(year_to)}")
    if rating_gte is not None:
        conditions.append(f"(data ->> 'rating')::numeric >= {bind(rating_gte)}")
    if runtime_lte is not None:
        conditions.append(f"(data ->> 'runtime_minutes')::int <= {bind(runtime_lte)}")
    if q:
        conditions.append(f"data ->> 'title' ILIKE {bind('%' + q + '%')}")
    sql = (
        f"SELECT data::text FROM plain_movies WHERE {' AND '.join(conditions)}"
        f" ORDER BY {ORDER[sort]} LIMIT {bind(limit)} OFFSET {bind(offset)}"
    )
    rows = await request.app.state.pool.fetch(sql, *values)
    return Response("[" + ",".join(row[0] for row in rows) + "]", media_type="application/json")


@app.get("/movies/{tmdb_id}")
async def get_movie(request: Request, tmdb_id: int, x_tenant: Annotated[str, Header()]) -> Response:
    body = await request.app.state.pool.fetchval(MOVIE, x_tenant, tmdb_id)
    if body is None:
        return JSONResponse({"detail": "Movie not found"}, status_code=404)
    return Response(body, media_type="application/json")
