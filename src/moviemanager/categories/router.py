from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from ..deps import UowDep, optional_tenant_name
from ..errors import ErrorBody
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
    state = request.app.state
    if tenant is None:
        tree = service.nested(await views.category_rows(state.read_pool), None, max_level)
    else:
        report = await views.category_report(state.read_pool, state.caches.versions, tenant, filters)
        tree = service.nested(report.rows, report.counts, max_level)
    return Response(orjson.dumps(tree), media_type="application/json")


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
