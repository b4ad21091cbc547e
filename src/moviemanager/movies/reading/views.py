"""The hot reads: a page of movies and one movie, each one statement (statements.py) on a
read-pool connection (read_pool.py), its JSON built by PostgreSQL; and the facets.

A statement reads the tenant's data version with the movies, in one snapshot: the ETag always
describes the body it comes with. A 304, or a body the page cache holds (page_cache.py), needs
only the version: from memory when this process knows it (tenants/versions.py), with no query;
else a request carrying If-None-Match, or one for a page that may be cached, reads it first.

A read may be answered by a standby (read_pool.py, replicas.py) only when this process knows the
tenant's version, and only with that version: a standby's answer from another one (it lags) is
read again from the primary. When the version is not known here (no listener yet, or this
process has just written it), the primary answers.
"""

import uuid
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import orjson

from ...errors import InvalidCursor, InvalidListing, MovieNotFound, TenantNotFound
from ...read_pool import ReadRunner
from ...tenants.service import require_data_version
from ...tenants.versions import DataVersions
from ...uow import UnitOfWork
from ..genres import Language
from .cursor import CursorCodec
from .etags import Conditional, NotModified
from .facets import facet_body
from .filters import NO_FILTERS, MovieFilters, category_subtree_on
from .ordering import Order
from .page_cache import PageCache
from .statements import (
    MOVIE_STATEMENT,
    VERSION_AND_PARTITION_STATEMENT,
    VERSION_PARTITION_AND_FACETS_STATEMENT,
    VERSION_STATEMENT,
    Listing,
    Parameters,
    facets_sql,
    page_statement,
    sql_with_conditions,
)


@dataclass(frozen=True)
class MoviePage:
    """A body with its ETag: a page of movies, or one movie (with no cursor or total)."""

    body: bytes  # a JSON array of movies as MovieRead shows them, or one movie
    next_cursor: str | None
    total: int | None  # with `count` only
    etag: str


@dataclass(frozen=True)
class Caches:
    """What spares a read its query: the tenants' versions in memory, the bodies by ETag."""

    versions: DataVersions
    bodies: "PageCache[MoviePage]"


async def list_movies(
    read_pool: ReadRunner,
    caches: Caches,
    tenant: str,
    listing: Listing,
    *,
    cursors: CursorCodec,
    conditional: Conditional,
    language: Language | None = None,
) -> MoviePage:
    """One page of a tenant's movies. Raises NotModified when the client's ETag is current.
    With the tenant's version in memory, that and a page kept in the cache cost no query; without
    it, a read of the tenant's row."""
    order = listing.order()
    scope = cursor_scope(tenant, order, listing.filters)
    after: tuple = ()
    if listing.cursor is not None:
        if listing.offset:
            raise InvalidListing("send either cursor or offset, not both")
        key, tmdb_id = cursors.decode(listing.cursor, scope)
        try:
            after = (order.key_from_json(key), tmdb_id)
        except (ValueError, ArithmeticError):
            raise InvalidCursor("its position does not fit this sort") from None
    cache = caches.bodies
    cacheable = cache.enabled and listing.count != "estimated"  # an estimate may change without a reload
    known = _known_etag(caches.versions, tenant, conditional)
    if known is not None and cacheable and (page := cache.get(known)) is not None:
        return page

    async def read(connection: asyncpg.Connection) -> MoviePage | None:
        if known is None:
            etag = await _read_etag(connection, tenant, conditional, check=cacheable)
            if etag is not None and (page := cache.get(etag)) is not None:
                return page
        resolved = replace(listing, filters=await listing.filters.resolved(category_subtree_on(connection)))
        sql, values = page_statement(tenant, resolved, order, after, language)
        rows = await connection.fetch(sql, *values)
        if not rows:
            return None  # no such tenant
        total = rows[0]["total"] if listing.count == "exact" else None
        if listing.count == "estimated":
            total = await _estimated_count(connection, tenant, resolved.filters)
        return _page(rows, conditional.etag(rows[0]["data_version"]), total)

    def _page(rows: list[asyncpg.Record], etag: str, total: int | None) -> MoviePage:
        movies = [row for row in rows if row["tmdb_id"] is not None]
        next_cursor = None
        if len(movies) > listing.limit:
            last = movies[listing.limit - 1]
            next_cursor = cursors.encode(scope, order.key_to_json(last["sort_key"]), last["tmdb_id"])
        body = b"[" + ",".join(row["body"] for row in movies[: listing.limit]).encode() + b"]"
        page = MoviePage(body, next_cursor, total, etag)
        if cacheable:
            cache.put(etag, page, len(body))
        return page

    page = await read_pool.run(tenant, read, fresh=None if known is None else lambda page: _is_at(page, known))
    if page is None:
        raise TenantNotFound(tenant)
    return page


async def get_movie(
    read_pool: ReadRunner,
    caches: Caches,
    tenant: str,
    tmdb_id: int | None,
    *,
    conditional: Conditional,
    language: Language | None = None,
) -> MoviePage:
    """The movie as MovieRead shows it (a MoviePage of one, with no cursor or total); tmdb_id
    None: no such movie can exist. Kept in the cache only when the tenant's version is in memory
    (else checking the cache would cost what reading the movie does)."""
    known = _known_etag(caches.versions, tenant, conditional)
    if known is not None and (movie := caches.bodies.get(known)) is not None:
        return movie

    async def read(connection: asyncpg.Connection) -> asyncpg.Record | None:
        if known is None:
            await _read_etag(connection, tenant, conditional, check=False)
        return await connection.fetchrow(MOVIE_STATEMENT, tenant, tmdb_id, language)

    def fresh(row: asyncpg.Record | None) -> bool:
        return row is not None and conditional.etag(row["data_version"]) == known

    row = await read_pool.run(tenant, read, fresh=None if known is None else fresh)
    if row is None:
        raise TenantNotFound(tenant)
    if row["body"] is None:
        raise MovieNotFound()
    movie = MoviePage(row["body"].encode(), None, None, conditional.etag(row["data_version"]))
    caches.bodies.put(movie.etag, movie, len(movie.body))
    return movie


def _is_at(page: MoviePage | None, etag: str) -> bool:
    return page is not None and page.etag == etag


def cursor_scope(tenant: str, order: Order, filters: MovieFilters) -> str:
    """What a cursor is bound to: it continues only the listing that issued it."""
    return f"{tenant}|{order.name}|{filters.canonical().decode()}"


def _known_etag(versions: DataVersions, tenant: str, conditional: Conditional) -> str | None:
    """The ETag of the tenant's data version in memory (raises NotModified if the client has
    it), or None when the version is not known here."""
    version = versions.get(tenant)
    return None if version is None else _checked(conditional, version)


async def _read_etag(
    connection: asyncpg.Connection, tenant: str, conditional: Conditional, *, check: bool
) -> str | None:
    """As _known_etag, the version read from the database, when the client sent If-None-Match
    or when `check`; else None (not read)."""
    if not (check or conditional.if_none_match):
        return None
    version = await connection.fetchval(VERSION_STATEMENT, tenant)
    if version is None:
        raise TenantNotFound(tenant)
    return _checked(conditional, version)


def _checked(conditional: Conditional, version: uuid.UUID) -> str:
    etag = conditional.etag(version)
    if conditional.not_modified(etag):
        raise NotModified(etag)
    return etag


async def _estimated_count(connection: asyncpg.Connection, tenant: str, filters: MovieFilters) -> int:
    """The planner's estimate of the matching movies: instant, from statistics, roughly right."""
    parameters = Parameters()
    where = " AND ".join([f"movies.tenant = {parameters.bind(tenant)}", *filters.where(parameters.bind)])
    plan = await connection.fetchval(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM movies WHERE {where}", *parameters.values)
    if isinstance(plan, str):  # unless the connection decodes JSON itself (SQLAlchemy's do)
        plan = orjson.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


async def read_facets(
    read_pool: ReadRunner, versions: DataVersions, tenant: str, filters: MovieFilters, *, conditional: Conditional
) -> tuple[str, dict[str, Any]]:
    """As movie_facets, on a read-pool connection: the version and the tenant's partition in one
    statement, then the facets on that partition (a long read holds no lock on `movies`, see
    repository.py) in one more. With no filter, the facets its last import stored, if any, from the
    first statement alone."""
    known = _known_etag(versions, tenant, conditional)
    unfiltered = filters == NO_FILTERS

    async def read(connection: asyncpg.Connection) -> tuple[str, dict[str, Any]] | None:
        statement = VERSION_PARTITION_AND_FACETS_STATEMENT if unfiltered else VERSION_AND_PARTITION_STATEMENT
        found = await connection.fetchrow(statement, tenant)
        if found is None:
            return None
        etag = _checked(conditional, found["data_version"])
        if found["partition"] is None:
            return etag, facet_body([("total", None, None, 0)])
        if unfiltered and found["facets"] is not None:
            return etag, facet_body(orjson.loads(found["facets"]))
        resolved = await filters.resolved(category_subtree_on(connection))
        parameters = Parameters()
        sql = sql_with_conditions(facets_sql(tenant, found["partition"]), resolved, parameters)
        return etag, facet_body(await connection.fetch(sql, *parameters.values))

    answer = await read_pool.run(
        tenant, read, fresh=None if known is None else lambda answer: answer is not None and answer[0] == known
    )
    if answer is None:
        raise TenantNotFound(tenant)
    return answer


async def movie_facets(
    uow: UnitOfWork, tenant: str, filters: MovieFilters, *, conditional: Conditional
) -> tuple[str, dict[str, Any]]:
    """(ETag, counts per genre, year and rating bucket of the movies matching `filters`)."""

    async def read() -> tuple[str, dict[str, Any]]:
        async with uow.for_tenant(tenant, replica=True):
            etag = conditional.etag(await require_data_version(uow, tenant))
            if conditional.not_modified(etag):
                raise NotModified(etag)
            rows = await uow.movies(tenant).facets(filters)
            return etag, facet_body(rows)

    return await uow.reading(read)
