"""The query parameters of the movie reads, each set one pydantic model.

GET /movies/facets and GET /categories take the filters as a FastAPI query model. GET /movies and
GET /movies/{tmdb_id} validate their model themselves (`from_request`): FastAPI resolves a query
model field by field, a large share of a list page's time (docs/performance.md).
Their OpenAPI parameters are generated from the same models (`openapi_parameters`).
"""

from decimal import Decimal
from typing import Annotated, Any, Literal, Self, TypeVar

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StringConstraints, TypeAdapter, ValidationError
from starlette.datastructures import QueryParams

from ...errors import InvalidListing, UnknownParameter
from ...tenancy import TENANT_NAME_PATTERN, note_tenant, required_tenant
from ..genres import Language, preferred_language
from ..search import query_words, tsquery_text
from .filters import MovieFilters
from .ordering import Sort

MAX_QUERY_CHARS = 200
# Beyond this, OFFSET reads and discards too many rows per page: walk with `cursor` instead.
MAX_OFFSET = 10_000
MAX_CURSOR_CHARS = 1000
GENRE_DESCRIPTION = (
    "A genre id or name, English or Vietnamese, with or without accents (35, Comedy, Phim Hài, hai);"
    " `a,b`: all of them, `a|b`: any of them"
)
LANGUAGE_DESCRIPTION = "vi or en: the language of the canonical genre names in `genres`; otherwise as written"
TENANT_DESCRIPTION = "The tenant; wins over the X-Tenant header when both are given"


class FilterParams(BaseModel):
    """The filters of GET /movies, GET /movies/facets and GET /categories."""

    genre: str | None = Field(None, description=GENRE_DESCRIPTION)
    year: int | None = Field(None, description="Release year")
    category: int | None = Field(None, description="A category id: movies in it or in any category below it")
    year_from: int | None = Field(None, ge=0, le=9999, description="Released in this year or later")
    year_to: int | None = Field(None, ge=0, le=9999, description="Released in this year or earlier")
    rating_gte: float | None = Field(None, ge=0, le=10, description="Rating at least this (0–10)")
    rating_lte: float | None = Field(None, ge=0, le=10, description="Rating at most this (0–10)")
    runtime_lte: int | None = Field(None, ge=0, le=100_000, description="Runtime at most this many minutes")
    q: str | None = Field(
        None,
        max_length=MAX_QUERY_CHARS,
        description="Search titles and overviews, ignoring case and accents (`hai huoc` finds 'Hài Hước');"
        " every word must match, the last as a prefix (`stran` finds 'Stranger Things')",
    )
    search: str | None = Field(None, max_length=MAX_QUERY_CHARS, description="Another name for `q`")

    def filters(self) -> MovieFilters:
        text = self.search_text()
        search = None
        if text is not None:
            words = query_words(text)
            if not words:
                raise InvalidListing("q has no letters or digits to search for")
            search = tsquery_text(words)
        return MovieFilters(
            genre=self.genre,
            year=self.year,
            year_from=self.year_from,
            year_to=self.year_to,
            rating_gte=None if self.rating_gte is None else Decimal(repr(self.rating_gte)),
            rating_lte=None if self.rating_lte is None else Decimal(repr(self.rating_lte)),
            runtime_lte=self.runtime_lte,
            search=search,
            category=self.category,
        )

    def search_text(self) -> str | None:
        """`q`, or `search`: the original API's name for it."""
        if self.q is not None and self.search is not None and self.q != self.search:
            raise InvalidListing("q and search are one parameter under two names: send one of them")
        return self.q if self.q is not None else self.search


class ListParams(FilterParams):
    """GET /movies: the filters, then order, page and count."""

    tenant: str | None = Field(None, pattern=TENANT_NAME_PATTERN, description=TENANT_DESCRIPTION)
    sort: Sort | None = Field(
        None, description="Order; `-` descends. Default: `relevance` with q, else `tmdb_id`. Ties go by TMDB id"
    )
    limit: int = Field(100, ge=1, le=1000, description="Page size")
    cursor: str | None = Field(
        None, max_length=MAX_CURSOR_CHARS, description="Where to continue: from the Link rel=next"
    )
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description=f"Movies to skip (at most {MAX_OFFSET:,}); prefer cursor")
    count: Literal["exact", "estimated"] | None = Field(
        None, description="Send X-Total-Count: `exact` counts (slow on big catalogs), `estimated` asks the planner"
    )
    format: Literal["json", "csv"] = Field("json", description="`csv`: every matching movie, as GET /movies.csv")

    @classmethod
    def from_request(cls, request: Request) -> Self:
        """The parameters, validated; an unknown one is refused (400), rather than ignored, so that
        a misspelt filter never answers the whole catalog. Names starting with `_` (cache-busters) pass."""
        unknown = [name for name in request.query_params if name not in cls.model_fields and name[:1] != "_"]
        if unknown:
            raise UnknownParameter(
                f"Unknown query parameter {unknown[0][:40]!r}; GET /movies accepts {', '.join(cls.model_fields)}"
            )
        return _validated(cls, request.query_params)


ParamsModel = TypeVar("ParamsModel", bound=BaseModel)


class MovieParams(BaseModel):
    """GET /movies/{tmdb_id}."""

    tenant: str | None = Field(None, pattern=TENANT_NAME_PATTERN, description=TENANT_DESCRIPTION)

    @classmethod
    def from_request(cls, request: Request) -> Self:
        return _validated(cls, request.query_params)


def _validated(model: type[ParamsModel], query: QueryParams) -> ParamsModel:
    try:
        # A dict: pydantic reads any other mapping a field at a time, several times slower.
        return model.model_validate(dict(query))
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]) from None


_TENANT_HEADER = TypeAdapter(Annotated[str, StringConstraints(pattern=TENANT_NAME_PATTERN)])


def request_tenant(request: Request, tenant_param: str | None) -> str:
    """The tenant of the `tenant` parameter or the X-Tenant header, as deps.tenant_name takes it."""
    header = request.headers.get("x-tenant")
    if header is not None:
        try:
            _TENANT_HEADER.validate_python(header)
        except ValidationError as exc:
            errors = [{**error, "loc": ("header", "x-tenant")} for error in exc.errors()]
            raise RequestValidationError(errors) from None
    name = required_tenant(header, tenant_param)
    note_tenant(request.scope, name)
    return name


def request_language(request: Request) -> Language | None:
    return preferred_language(request.headers.get("accept-language"))


def openapi_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The model's fields as OpenAPI query parameters, followed by the headers these reads take."""
    schema = model.model_json_schema()
    assert "$defs" not in schema, "a parameter's schema must stand alone"
    query = [
        {"name": name, "in": "query", "required": False, "description": field.get("description"), "schema": field}
        for name, field in schema["properties"].items()
    ]
    return [*query, *HEADER_PARAMETERS]


HEADER_PARAMETERS = [
    {
        "name": "x-tenant",
        "in": "header",
        "required": False,
        "description": "The tenant (catalog) to use",
        "schema": {"type": "string", "pattern": TENANT_NAME_PATTERN},
    },
    {
        "name": "accept-language",
        "in": "header",
        "required": False,
        "description": LANGUAGE_DESCRIPTION,
        "schema": {"type": "string"},
    },
    {
        "name": "if-none-match",
        "in": "header",
        "required": False,
        "description": "The ETag of an earlier response: 304 while it is current",
        "schema": {"type": "string"},
    },
]


async def movie_filters(params: Annotated[FilterParams, Query()]) -> MovieFilters:
    return params.filters()


FiltersDep = Annotated[MovieFilters, Depends(movie_filters)]
