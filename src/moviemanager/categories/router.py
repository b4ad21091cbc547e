from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from ..deps import UowDep, optional_tenant_name
from ..errors import ErrorBody
from ..movies.reading.filters import MovieFilters
from ..movies.reading.params import FiltersDep
from . import genres_service, service, views
from .schemas import CategoryNode, GenreRead

router = APIRouter(tags=["categories"])

OptionalTenantDep = Annotated[str | None, Depends(optional_tenant_name)]


@router.get(
    "/categories",
    response_model=list[CategoryNode],  # documents the body; the nodes are serialised directly (see service)
    responses={
        400: {"model": ErrorBody, "description": "q without words, or q and search differ"},
        404: {"model": ErrorBody, "description": "Unknown tenant"},
    },
)
async def list_categories(
    request: Request,
    tenant: OptionalTenantDep,
    filters: FiltersDep,
    max_level: Annotated[
        int | None,
        Query(ge=0, le=2**31 - 1, description="Deepest level to include; 0 = root categories only. Unset: all."),
    ] = None,
) -> Response:
    """The category tree, nested through `subcategories`.

    With a tenant (X-Tenant or `tenant`), each node has `movie_count` (movies in it, by their
    genres) and `total_count` (distinct movies in its subtree), narrowed by the filters of GET /movies
    (`genre`, `year`, `q`…), which apply only with a tenant.
    """
    # The rows, the nodes and the JSON are made, and the rows and nodes freed, with the collector
    # paused: resumed any earlier, it would walk every one of them (see service.gc_paused).
    with service.gc_paused():
        body = await _tree_json(request, tenant, filters, max_level)
    return Response(body, media_type="application/json")


async def _tree_json(request: Request, tenant: str | None, filters: MovieFilters, max_level: int | None) -> bytes:
    state = request.app.state
    if tenant is None:
        return orjson.dumps(service.nested(await views.category_rows(state.read_pool), None, max_level))
    report = await views.category_report(state.read_pool, state.caches.versions, tenant, filters)
    return orjson.dumps(service.nested(report.rows, report.counts, max_level))


@router.get(
    "/genres",
    response_model=list[GenreRead],
    response_model_exclude_none=True,
    responses={
        404: {"model": ErrorBody, "description": "Unknown tenant"},
    },
)
async def list_genres(uow: UowDep, tenant: OptionalTenantDep) -> list[GenreRead]:
    """The canonical (TMDB) genres, with the tenant's movies of each when a tenant is given."""
    return await genres_service.list_genres(uow, tenant)
