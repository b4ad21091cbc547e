"""The hot reads: a page of movies and one movie, each one statement on a read-pool connection
(read_pool.py), its JSON built by PostgreSQL.

A statement reads the tenant's data version with the movies, in one snapshot: the ETag always
describes the body it comes with. A 304, or a body the page cache holds (page_cache.py), needs
only the version: from memory when this process knows it (tenants/versions.py), with no query;
else a request carrying If-None-Match, or one for a page that may be cached, reads it first.
"""

import functools
import uuid
from dataclasses import dataclass, replace
from typing import Any, Literal

import asyncpg
import orjson

from ...errors import InvalidCursor, InvalidListing, MovieNotFound, TenantNotFound
from ...read_pool import ReadRunner
from ...tenants.service import require_data_version
from ...tenants.versions import DataVersions
from ...uow import UnitOfWork
from ..category_counts import EXPLICIT_ID_SQL, MOVIE_CATEGORIES_SQL
from ..genres import Language
from ..schemas import MovieRead
from .cursor import CursorCodec
from .etags import Conditional, NotModified
from .facets import facet_body
from .filters import MovieFilters, category_subtree_on
from .ordering import Bind, Order, Sort, order_for
from .page_cache import PageCache
from .relevance import relevance_page_sql


class Parameters:
    """A statement's parameters in order: `bind(value)` adds one and returns its placeholder."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def bind(self, value: object) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


@dataclass(frozen=True, kw_only=True)
class Listing:
    """What selects one page: filters, order, size, and where to start (a cursor, or an offset)."""

    filters: MovieFilters
    sort: Sort | None = None
    limit: int
    offset: int = 0
    cursor: str | None = None
    count: Literal["exact", "estimated"] | None = None

    def order(self) -> Order:
        sort = self.sort or ("relevance" if self.filters.search else "tmdb_id")
        if sort == "relevance" and not self.filters.search:
            raise InvalidListing("sort=relevance needs a search: add q")
        return order_for(sort)


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

    async def read(connection: asyncpg.Connection) -> MoviePage:
        if known is None:
            etag = await _read_etag(connection, tenant, conditional, check=cacheable)
            if etag is not None and (page := cache.get(etag)) is not None:
                return page
        resolved = replace(listing, filters=await listing.filters.resolved(category_subtree_on(connection)))
        sql, values = page_statement(tenant, resolved, order, after, language)
        rows = await connection.fetch(sql, *values)
        if not rows:
            raise TenantNotFound(tenant)
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

    return await read_pool.run(tenant, read)


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

    row = await read_pool.run(tenant, read)
    if row is None:
        raise TenantNotFound(tenant)
    if row["body"] is None:
        raise MovieNotFound()
    movie = MoviePage(row["body"].encode(), None, None, conditional.etag(row["data_version"]))
    caches.bodies.put(movie.etag, movie, len(movie.body))
    return movie


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


def page_statement(
    tenant: str, listing: Listing, order: Order, after: tuple, language: Language | None
) -> tuple[str, list[object]]:
    """The page's SQL and parameters: one row per movie (limit + 1 of them, the last telling
    whether a next page exists), or one row of NULLs when none matches; no row: no such tenant."""
    parameters = Parameters()
    bind = parameters.bind
    tenant_condition = f"movies.tenant = {bind(tenant)}"
    total = ""
    if listing.count == "exact":
        # Uncorrelated: PostgreSQL runs it once, in the page's snapshot.
        counted = " AND ".join([tenant_condition, *listing.filters.where(bind)])
        total = f", (SELECT count(*) FROM movies WHERE {counted}) AS total"
    direction = " DESC" if order.descending else ""
    if order.name == "relevance":
        assert listing.filters.search is not None  # Listing.order() checked it
        others = [tenant_condition, *replace(listing.filters, search=None).where(bind)]
        page = relevance_page_sql(
            others, listing.filters.search, bind, limit=listing.limit + 1, offset=listing.offset, after=after
        )
    else:
        page = _ordered_page_sql([tenant_condition, *listing.filters.where(bind)], order, listing, after, bind)
    sql = f"""
        SELECT tenants.data_version, page.sort_key, page.tmdb_id, {movie_json_sql(bind(language))} AS body{total}
        FROM tenants
        LEFT JOIN LATERAL ({page}) AS page ON true
        {LINKED_CATEGORIES}
        WHERE tenants.name = $1
        ORDER BY page.sort_key{direction}, page.tmdb_id{direction}"""
    return sql, parameters.values


def _ordered_page_sql(where: list[str], order: Order, listing: Listing, after: tuple, bind: Bind) -> str:
    """The page's movies (tenant, tmdb_id, data, sort_key) in the order of one index."""
    key = order.key
    direction = " DESC" if order.descending else ""
    if after:
        last_key, last_id = after
        if order.key_sql is None:
            position, bound = "movies.tmdb_id", bind(last_id)
        else:
            position, bound = f"({key}, movies.tmdb_id)", f"({bind(last_key)}, {bind(last_id)})"
        where = [*where, f"{position} {'<' if order.descending else '>'} {bound}"]
    ordering = f"movies.tmdb_id{direction}"
    if order.key_sql is not None:
        ordering = f"{key}{direction}, {ordering}"
    # LIMIT and OFFSET written out (validated integers): a plan made for a parameter would
    # assume a tenth of the table is wanted, and choose to sort it.
    return f"""
            SELECT movies.tenant, movies.tmdb_id, movies.data, {key} AS sort_key
            FROM movies
            WHERE {" AND ".join(where)}
            ORDER BY {ordering}
            LIMIT {int(listing.limit) + 1} OFFSET {int(listing.offset)}"""


@functools.cache
def movie_json_sql(language: str) -> str:
    """A movie of the lateral `page` (and its `linked` categories) as MovieRead shows it: keys in
    the model's order; `genre_keys` (the importer's) left out. `language`: the placeholder of 'vi',
    'en' or NULL (the genres as written)."""
    fields = ", ".join(f"'{name}', {_field_sql(name, language)}" for name in SHOWN)
    # As text: the JSON goes out as PostgreSQL wrote it, whatever codecs the connection has.
    return f"(CASE WHEN page.tmdb_id IS NULL THEN NULL ELSE json_build_object({fields}) END)::text"


SHOWN = tuple(MovieRead.model_fields)
# The text fields the original API never answered null for.
ALWAYS_TEXT = frozenset(
    name for name, field in MovieRead.model_fields.items() if field.annotation is str and name != "tmdb_id"
)


def _field_sql(name: str, language: str) -> str:
    match name:
        case "tmdb_id":
            return "page.tmdb_id::text"
        case "category_id":
            return "linked.first_id"
        case "categories":
            return "COALESCE(linked.categories, '[]'::json)"
        case "genres":
            return LOCALIZED_GENRES.format(language=f"CAST({language} AS text)")
        case "extra":
            return "COALESCE(NULLIF(page.data -> 'extra', 'null'::jsonb), '{}'::jsonb)"
        case "rating":  # unrated: 0, as the original API answered (and TMDB's vote_average without votes)
            return "COALESCE(NULLIF(page.data -> 'rating', 'null'::jsonb), '0'::jsonb)"
        case "rated":
            return "COALESCE(page.data -> 'rating', 'null'::jsonb) <> 'null'::jsonb"
        case _ if name in ALWAYS_TEXT:  # an empty cell is "", as the original API answered
            return f"COALESCE(NULLIF(page.data -> '{name}', 'null'::jsonb), '\"\"'::jsonb)"
        case _:
            return f"page.data -> '{name}'"


_GENRE_KEYS = "page.data -> 'genre_keys'"
_EXPLICIT_ID = EXPLICIT_ID_SQL.format(genre_keys=_GENRE_KEYS)
# Each movie's categories, by id, from its genres and its explicit category (see
# movies/category_counts.py); its category_id is the explicit one, else the lowest. Each name is a
# lookup by primary key: as a join, PostgreSQL hashed the whole (small) categories table once per
# movie (docs/performance.md).
LINKED_CATEGORIES = f"""
        LEFT JOIN LATERAL (
            SELECT json_agg(json_build_object('id', category.id, 'name', (
                        SELECT categories.name FROM categories WHERE categories.id = category.id
                    )) ORDER BY category.id) AS categories,
                COALESCE(min(category.id) FILTER (WHERE category.id = {_EXPLICIT_ID}), min(category.id)) AS first_id
            FROM {MOVIE_CATEGORIES_SQL.format(genre_keys=_GENRE_KEYS)} AS category
        ) AS linked ON true"""

# The genres as written; with a language, each canonical one (its key a genre id, see
# genres.genre_keys) named in that language, unknown ones as written, each name once.
LOCALIZED_GENRES = """CASE WHEN {language} IS NULL THEN COALESCE(NULLIF(page.data -> 'genres', 'null'::jsonb), '[]')
            ELSE (
                SELECT COALESCE(jsonb_agg(label ORDER BY first_position), '[]'::jsonb) FROM (
                    SELECT label, min(position) AS first_position FROM (
                        SELECT written.position, COALESCE(
                            CASE {language} WHEN 'vi' THEN genres.name_vi ELSE genres.name_en END, written.name
                        ) AS label
                        FROM jsonb_array_elements_text(page.data -> 'genres') WITH ORDINALITY AS written(name, position)
                        LEFT JOIN genres ON genres.id = CASE
                            WHEN jsonb_typeof(page.data -> 'genre_keys' -> (written.position::int - 1)) = 'number'
                            THEN (page.data -> 'genre_keys' ->> (written.position::int - 1))::int END
                        WHERE written.position <= jsonb_array_length(page.data -> 'genre_keys')
                    ) AS labelled
                    GROUP BY label
                ) AS first_labels
            ) END"""

VERSION_STATEMENT = "SELECT data_version FROM tenants WHERE name = $1"

# $1 tenant, $2 TMDB id, $3 language. One row if the tenant exists; body NULL if the movie does not.
MOVIE_STATEMENT = f"""
    SELECT tenants.data_version, {movie_json_sql("$3")} AS body
    FROM tenants
    LEFT JOIN LATERAL (
        SELECT movies.tenant, movies.tmdb_id, movies.data FROM movies
        WHERE movies.tenant = $1 AND movies.tmdb_id = $2
    ) AS page ON true
    {LINKED_CATEGORIES}
    WHERE tenants.name = $1"""


async def movie_facets(
    uow: UnitOfWork, tenant: str, filters: MovieFilters, *, conditional: Conditional
) -> tuple[str, dict[str, Any]]:
    """(ETag, counts per genre, year and rating bucket of the movies matching `filters`)."""
    async with uow.for_tenant(tenant):
        etag = conditional.etag(await require_data_version(uow, tenant))
        if conditional.not_modified(etag):
            raise NotModified(etag)
        rows = await uow.movies(tenant).facets(filters)
        return etag, facet_body(rows)
