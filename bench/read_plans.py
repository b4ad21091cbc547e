"""EXPLAIN ANALYZE of the statement behind each case of bench/read.py, as the service runs it: the
project's own SQL (movies/reading/views.py), as the app role under row-level security."""

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import orjson
from sqlalchemy.engine import make_url

from moviemanager.migrations.tenant_isolation import APP_ROLE
from moviemanager.movies.reading.cursor import CursorCodec
from moviemanager.movies.reading.params import FilterParams
from moviemanager.movies.reading.statements import MOVIE_STATEMENT, VERSION_STATEMENT, Listing, page_statement
from moviemanager.movies.reading.views import cursor_scope


def explain_case(database_url: str, secret: str, spec: dict[str, Any]) -> str:
    return asyncio.run(_explain(database_url, secret, spec))


async def _explain(database_url: str, secret: str, spec: dict[str, Any]) -> str:
    url = make_url(database_url).set(drivername="postgresql", username=APP_ROLE, password=None)
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.execute("SELECT set_config('app.tenant', $1, false)", spec["tenant"])
        sql, values = _statement(secret, spec)
        plan = await connection.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, *values)
    finally:
        await connection.close()
    return summarise(orjson.loads(plan)[0])


def _statement(secret: str, spec: dict[str, Any]) -> tuple[str, list[object]]:
    tenant = spec["tenant"]
    if spec.get("data_version"):
        return VERSION_STATEMENT, [tenant]
    if "tmdb_id" in spec:
        return MOVIE_STATEMENT, [tenant, spec["tmdb_id"], None]
    filters = FilterParams.model_validate({**spec.get("filters", {}), "q": spec.get("q")}).filters()
    listing = Listing(filters=filters, sort=spec.get("sort"), limit=20)
    order = listing.order()
    after: tuple = ()
    if "cursor_url" in spec:
        cursor = parse_qs(urlsplit(spec["cursor_url"]).query)["cursor"][0]
        key, tmdb_id = CursorCodec(secret.encode()).decode(cursor, cursor_scope(tenant, order, filters))
        after = (order.key_from_json(key), tmdb_id)
    return page_statement(tenant, listing, order, after, None)


def summarise(explained: dict[str, Any]) -> str:
    """The movies' part of the plan: 'Limit ← Index Scan Backward on <index> (21 rows) | 0.09 ms,
    24 buffers' (time and buffers of the whole statement, categories and genres included)."""
    nodes: list[str] = []

    def movies_part(node: dict[str, Any]) -> dict[str, Any] | None:
        """The page's Limit, or the scan of a movies partition."""
        if node["Node Type"] == "Limit" or node.get("Relation Name", "").startswith("movies__"):
            return node
        return next(filter(None, map(movies_part, node.get("Plans", []))), None)

    def walk(node: dict[str, Any]) -> None:
        label = node["Node Type"]
        if node.get("Scan Direction") == "Backward":
            label += " Backward"
        if "Index Name" in node:
            label += f" on {node['Index Name']}"
        elif "Relation Name" in node:
            label += f" on {node['Relation Name']}"
        if label != "Result":  # row-level security's one-time filter
            nodes.append(f"{label} ({node.get('Actual Rows', 0):,} rows)")
        for child in node.get("Plans", []):
            walk(child)

    walk(movies_part(explained["Plan"]) or explained["Plan"])
    buffers = explained["Plan"].get("Shared Hit Blocks", 0) + explained["Plan"].get("Shared Read Blocks", 0)
    return " ← ".join(nodes) + f" | {explained['Execution Time']:.2f} ms, {buffers} buffers"
