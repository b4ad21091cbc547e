"""EXPLAIN ANALYZE of the query behind each case of bench/read.py, built by the project's own code."""

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moviemanager.config import Settings
from moviemanager.db import create_engine
from moviemanager.models import Movie, Tenant
from moviemanager.movies.cursor import CursorCodec
from moviemanager.movies.explain import Explain
from moviemanager.movies.ordering import order_for
from moviemanager.movies.repository import MovieFilters, MovieRepository
from moviemanager.movies.search import query_words, tsquery_text
from moviemanager.movies.service import cursor_scope


def explain_case(database_url: str, secret: str, spec: dict[str, Any]) -> str:
    return asyncio.run(_explain(database_url, secret, spec))


async def _explain(database_url: str, secret: str, spec: dict[str, Any]) -> str:
    engine = create_engine(database_url, Settings(database_url=database_url))
    try:
        async with AsyncSession(engine) as session:
            plan = await session.scalar(Explain(_statement(session, secret, spec), "ANALYZE, BUFFERS, FORMAT JSON"))
    finally:
        await engine.dispose()
    if isinstance(plan, str | bytes):
        plan = orjson.loads(plan)
    return summarise(plan[0])


def _statement(session: AsyncSession, secret: str, spec: dict[str, Any]):
    tenant = spec["tenant"]
    if spec.get("data_version"):
        return select(Tenant.data_version).where(Tenant.name == tenant)
    if "tmdb_id" in spec:
        return select(Movie).where(Movie.tenant == tenant, Movie.tmdb_id == spec["tmdb_id"])
    search = tsquery_text(query_words(spec["q"])) if spec.get("q") else None
    filters = MovieFilters(**spec.get("filters", {}), search=search)
    order = order_for(spec.get("sort") or ("relevance" if search else "tmdb_id"), search)
    after: tuple = ()
    if "cursor_url" in spec:
        cursor = parse_qs(urlsplit(spec["cursor_url"]).query)["cursor"][0]
        key, tmdb_id = CursorCodec(secret.encode()).decode(cursor, cursor_scope(tenant, order, filters))
        after = (order.key_from_json(key), tmdb_id)
    return MovieRepository(session, tenant).list_statement(filters, order, limit=21, after=after)


def summarise(explained: dict[str, Any]) -> str:
    """'Limit ← Index Scan Backward on <index> (20 rows) | 0.09 ms, 24 buffers'."""
    nodes: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        label = node["Node Type"]
        if node.get("Scan Direction") == "Backward":
            label += " Backward"
        if "Index Name" in node:
            label += f" on {node['Index Name']}"
        elif "Relation Name" in node:
            label += f" on {node['Relation Name']}"
        nodes.append(f"{label} ({node.get('Actual Rows', 0):,} rows)")
        for child in node.get("Plans", []):
            walk(child)

    walk(explained["Plan"])
    buffers = explained["Plan"].get("Shared Hit Blocks", 0) + explained["Plan"].get("Shared Read Blocks", 0)
    return " ← ".join(nodes) + f" | {explained['Execution Time']:.2f} ms, {buffers} buffers"
