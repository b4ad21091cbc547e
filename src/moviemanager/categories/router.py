from typing import Annotated

from fastapi import APIRouter, Query

from ..deps import UowDep
from . import service
from .schemas import CategoryNode

router = APIRouter(tags=["categories"])


@router.get("/categories", response_model=list[CategoryNode])
async def list_categories(
    uow: UowDep,
    max_level: Annotated[
        int | None,
        Query(ge=0, le=2**31 - 1, description="Deepest level to include; 0 = root categories only. Unset: all."),
    ] = None,
) -> list[CategoryNode]:
    """The category tree, nested through `subcategories`."""
    return await service.category_tree(uow, max_level=max_level)
