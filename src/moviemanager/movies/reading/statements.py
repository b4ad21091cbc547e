"""The SQL of the hot reads, in one place: a page of GET /movies and one movie of
GET /movies/{tmdb_id}, each a single statement whose JSON body PostgreSQL builds.

A page's conditions come from filters.py (MovieFilters.where), its order from ordering.py (or
relevance.py for a search), a movie's categories from movies/category_counts.py; views.py runs
the statements and keeps what they return.
"""

import functools
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import BigInteger, Boolean, column, literal_column, table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from ...errors import InvalidListing
from ..category_counts import EXPLICIT_ID_SQL, MOVIE_CATEGORIES_SQL
from ..genres import Language
from ..partitions import CURRENT_PARTITION_SQL
from ..schemas import MovieRead
from .facets import facets_statement
from .filters import MovieFilters
from .ordering import Bind, Order, Sort, order_for
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


def page_statement(
    tenant: str, listing: Listing, order: Order, after: tuple, language: Language | None
) -> tuple[str, list[object]]:
    """The page's SQL and parameters: one row per movie (limit + 1 of them, the last telling
    whether a next page exists), or one row of NULLs when none matches; no row: no such tenant."""
    parameters = Parameters()
    bind = parameters.bind
    tenant_placeholder = bind(tenant)
    tenant_condition = f"movies.tenant = {tenant_placeholder}"
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
        where = [tenant_condition, *listing.filters.where(bind)]
        page = _ordered_page_sql(tenant_placeholder, where, order, listing, after, bind)
    sql = f"""
        SELECT tenants.data_version, page.sort_key, page.tmdb_id, {movie_json_sql(bind(language))} AS body{total}
        FROM tenants
        LEFT JOIN LATERAL ({page}) AS page ON true
        {LINKED_CATEGORIES}
        WHERE tenants.name = $1
        ORDER BY page.sort_key{direction}, page.tmdb_id{direction}"""
    return sql, parameters.values


def _ordered_page_sql(tenant: str, where: list[str], order: Order, listing: Listing, after: tuple, bind: Bind) -> str:
    """The page's movies (tenant, tmdb_id, data, sort_key) in the order of one index: chosen by
    their keys alone (an index-only scan: every read index carries every key, models.COVERED),
    then fetched by primary key, so that only the page's movies are read from the table.
    `tenant`: its placeholder (a constant: the planner reads one partition)."""
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
            SELECT movies.tenant, movies.tmdb_id, movies.data, chosen.sort_key
            FROM (
                SELECT movies.tmdb_id, {key} AS sort_key
                FROM movies
                WHERE {" AND ".join(where)}
                ORDER BY {ordering}
                LIMIT {int(listing.limit) + 1} OFFSET {int(listing.offset)}
            ) AS chosen
            JOIN movies ON movies.tenant = {tenant} AND movies.tmdb_id = chosen.tmdb_id"""


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

# $1 tenant: its data version and the name of its partition of `movies` (NULL before its first import).
_PARTITION = f"({CURRENT_PARTITION_SQL.text.replace(':tenant', '$1')}) AS partition"
VERSION_AND_PARTITION_STATEMENT = f"""
    SELECT tenants.data_version, {_PARTITION}
    FROM tenants WHERE tenants.name = $1"""

# $1 tenant: as VERSION_AND_PARTITION_STATEMENT, and the facets of its whole catalog as its last
# import stored them (facet_counts, as JSON text; NULL: none stored).
VERSION_PARTITION_AND_FACETS_STATEMENT = f"""
    SELECT tenants.data_version, {_PARTITION},
        (SELECT facet_counts.rows::text FROM facet_counts WHERE facet_counts.tenant = $1) AS facets
    FROM tenants WHERE tenants.name = $1"""

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


# Where a statement built with SQLAlchemy takes the filters' conditions (MovieFilters.where) when
# it runs on a read-pool connection: see sql_with_conditions.
CONDITIONS = "__conditions__"


def sql_for_read_pool(statement: Any) -> str:
    """A statement built with SQLAlchemy as SQL text for asyncpg, its constants written out, with
    CONDITIONS where sql_with_conditions puts the filters. Built once per shape: compiling the
    counts statement costs more Python than the rest of a request."""
    return str(statement.compile(dialect=_ASYNCPG, compile_kwargs={"literal_binds": True}))


@functools.lru_cache(maxsize=1024)
def facets_sql(tenant: str, partition: str) -> str:
    """The facets of a tenant's movies (facets.facets_statement) read from its partition, for
    sql_with_conditions."""
    movies = table(partition, column("tmdb_id", BigInteger), column("data", JSONB)).alias("movies")
    return sql_for_read_pool(facets_statement(movies, [literal_column(CONDITIONS, Boolean)], tenant))


def facets_insert_sql(tenant: str, partition: str) -> str:
    """INSERT the facets of the tenant's whole catalog (facets_sql with no condition), read from its
    partition, into facet_counts (its row deleted first by the caller)."""
    facets = facets_sql(tenant, partition).replace(CONDITIONS, "true")
    rows = "jsonb_build_array(facet.name, facet.value, facet.label, facet.movies)"
    literal = "'" + tenant.replace("'", "''") + "'"  # a valid tenant name holds no quote; written safe anyway
    return (
        f"INSERT INTO facet_counts (tenant, rows) SELECT {literal}, COALESCE(jsonb_agg({rows}), '[]')"
        f" FROM ({facets}) AS facet(name, value, label, movies)"
    )


def sql_with_conditions(sql: str, filters: MovieFilters, parameters: Parameters) -> str:
    """`sql` (of sql_for_read_pool) with the filters' conditions in place of CONDITIONS."""
    conditions = filters.where(parameters.bind)
    return sql.replace(CONDITIONS, " AND ".join(f"({condition})" for condition in conditions) or "true")


_ASYNCPG = asyncpg_dialect()
