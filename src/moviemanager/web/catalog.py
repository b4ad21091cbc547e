"""What the catalog page shows, read with the API's own functions: the tenants, a page of movies
(views.list_movies), the facet counts (views.read_facets) and the category tree with counts
(categories.views.category_report), each on the read pool as the API reads them, the two counts at
once. Four reads, whatever the page holds: no query per movie."""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Any, Self, TypeVar
from urllib.parse import urlencode

import orjson
from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.requests import Request

from ..categories import service as categories
from ..categories import views as category_views
from ..errors import TenantNotFound
from ..movies.genres import Language
from ..movies.reading import views
from ..movies.reading.cursor import cursor_codec
from ..movies.reading.etags import Conditional, request_key
from ..movies.reading.facets import RUNTIME_LIMITS
from ..movies.reading.ordering import Sort
from ..movies.reading.params import MAX_CURSOR_CHARS, MAX_QUERY_CHARS, FilterParams
from ..movies.reading.statements import Listing
from ..movies.search import query_words
from ..tenancy import TENANT_NAME_PATTERN
from ..tenants import service as tenants
from ..uow import UnitOfWork
from .i18n import genre_name

PAGE_SIZE = 50
# `shown`: how many movies the page lists (from the cursor, if any), after "More movies" appended some.
MAX_SHOWN = 1000
DEFAULT_TENANT = "movies"
RATING_CHOICES = range(1, 10)
# The query parameters that make a catalog view, in the order its links write them.
STATE = ("tenant", "q", "genre", "year_from", "year_to", "rating_gte", "runtime_lte", "category", "sort")


class CatalogParams(BaseModel):
    """The catalog's query string. Empty values (a form's "Any") mean no filter; others are ignored."""

    tenant: str | None = Field(None, pattern=TENANT_NAME_PATTERN)
    q: str | None = Field(None, max_length=MAX_QUERY_CHARS)
    genre: str | None = Field(None, max_length=200)
    year_from: int | None = Field(None, ge=0, le=9999)
    year_to: int | None = Field(None, ge=0, le=9999)
    rating_gte: int | None = Field(None, ge=0, le=10)
    runtime_lte: int | None = Field(None, ge=0, le=100_000)
    category: int | None = Field(None, ge=0, le=2**31 - 1)
    sort: Sort | None = None
    cursor: str | None = Field(None, max_length=MAX_CURSOR_CHARS)
    shown: int | None = Field(None, ge=1, le=MAX_SHOWN)

    @field_validator("*", mode="before")
    @classmethod
    def empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @classmethod
    def from_request(cls, request: Request) -> Self:
        """The parameters; ValidationError for a bad value. A search with no letter or digit is no search."""
        query = request.query_params
        params = cls.model_validate({name: query[name] for name in cls.model_fields if name in query})
        if params.q is not None and not query_words(params.q):
            params = params.model_copy(update={"q": None})
        if params.sort == "relevance" and params.q is None:
            params = params.model_copy(update={"sort": None})
        return params

    def state(self, **changes: Any) -> list[tuple[str, str]]:
        """The view's query pairs (no cursor, no `shown`), with `changes` applied; None drops a parameter."""
        values = {name: getattr(self, name) for name in STATE} | changes
        return [(name, str(values[name])) for name in STATE if values[name] is not None]

    def url(self, **changes: Any) -> str:
        pairs = self.state(**changes)
        return "/?" + urlencode(pairs) if pairs else "/"


def validation_messages(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors())


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    count: int | None = None


@dataclass(frozen=True)
class CatalogView:
    tenant: str | None
    tenants: list[str]
    movies: list[dict[str, Any]]
    total: int
    next_url: str | None
    genres: list[Option]
    years: list[Option]
    ratings: list[Option]
    runtimes: list[Option]
    tree: list[dict[str, Any]]


async def read_catalog(request: Request, params: CatalogParams, language: Language) -> CatalogView:
    """Everything the catalog page shows. TenantNotFound for a tenant that is not registered."""
    state = request.app.state
    names = await tenants.list_tenants(UnitOfWork(state.sessions))
    tenant = params.tenant or (DEFAULT_TENANT if DEFAULT_TENANT in names or not names else names[0])
    if tenant not in names:
        if params.tenant is not None:
            raise TenantNotFound(tenant)
        return CatalogView(None, names, [], 0, None, [], [], [], _runtime_options({}, None), [])
    filters = _api_params(params).filters()
    limit = params.shown or PAGE_SIZE
    listing = Listing(filters=filters, sort=params.sort, limit=limit, cursor=params.cursor)
    key_pairs = params.state(tenant=None) + [("cursor", params.cursor or ""), ("limit", str(limit))]
    page = await views.list_movies(
        state.read_pool,
        state.caches,
        tenant,
        listing,
        cursors=await cursor_codec(request),
        conditional=Conditional(request_key(tenant, "/web/movies", key_pairs, language)),
        language=language,
    )
    # The two counts on two connections at once: on a big catalog each walks the index entries of
    # the matching movies, and the page waits for the longer, not for both in turn.
    (_, facets), report = await _both(
        views.read_facets(
            state.read_pool,
            state.caches.versions,
            tenant,
            filters,
            conditional=Conditional(request_key(tenant, "/web/facets", params.state(tenant=None))),
        ),
        # The tree counts what choosing each node would list: every filter but the category itself.
        category_views.category_report(state.read_pool, state.caches.versions, tenant, replace(filters, category=None)),
    )
    tree = categories.nested(report.rows, report.counts, None)
    next_url = None
    if page.next_cursor is not None:
        next_url = "/?" + urlencode([*params.state(tenant=tenant), ("cursor", page.next_cursor)])
    return CatalogView(
        tenant=tenant,
        tenants=names,
        movies=orjson.loads(page.body),
        total=facets["total"],
        next_url=next_url,
        genres=_genre_options(facets, params.genre, language),
        years=[Option(str(y["year"]), str(y["year"]), y["count"]) for y in facets["years"] if y["year"] is not None],
        ratings=_rating_options(facets),
        runtimes=_runtime_options(facets, params.runtime_lte),
        tree=tree,
    )


A = TypeVar("A")
B = TypeVar("B")


async def _both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both results; if either read fails, its error once the other has finished too (so that no
    read outlives the request)."""
    results = await asyncio.gather(first, second, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results[0], results[1]


def _api_params(params: CatalogParams) -> FilterParams:
    return FilterParams(
        genre=params.genre,
        year_from=params.year_from,
        year_to=params.year_to,
        rating_gte=params.rating_gte,
        runtime_lte=params.runtime_lte,
        category=params.category,
        q=params.q,
    )


def _genre_options(facets: dict[str, Any], chosen: str | None, language: Language) -> list[Option]:
    options = [Option(g["key"], genre_name(g["key"], g["name"], language), g["count"]) for g in facets["genres"]]
    if chosen is not None and all(option.value != chosen for option in options):
        options.append(Option(chosen, chosen, 0))
    return sorted(options, key=lambda option: option.label.casefold())


def _rating_options(facets: dict[str, Any]) -> list[Option]:
    """Movies rated at least n, for n = 1…9, summed from the facets' one-point buckets."""
    buckets = [(bucket["from"], bucket["count"]) for bucket in facets["ratings"] if bucket["from"] is not None]
    return [Option(str(n), f"≥ {n}", sum(count for low, count in buckets if low >= n)) for n in RATING_CHOICES]


def _runtime_options(facets: dict[str, Any], chosen: int | None) -> list[Option]:
    """Movies of runtime at most n minutes, for each of the facets' limits; a chosen limit that is
    none of them counts the matching movies (its filter is applied)."""
    counts = {runtime["at_most"]: runtime["count"] for runtime in facets.get("runtimes", [])}
    if chosen is not None and chosen not in RUNTIME_LIMITS:
        counts[chosen] = facets.get("total", 0)
    return [Option(str(n), str(n), counts.get(n)) for n in sorted({*RUNTIME_LIMITS, *counts})]
