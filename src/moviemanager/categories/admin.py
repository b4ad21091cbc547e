"""Category administration: its own router, so that the write guard attaches to all of it at once."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from ..auth import AUTH_ERRORS, admin_writer
from ..deps import UowDep
from ..errors import ErrorBody, RequestValidationErrorBody
from . import service
from .schemas import CategoryChange, CategoryCreate, CategoryRead

# The tree is shared by every tenant: only the admin token may change it.
CategoryId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The category's id")]

admin_router = APIRouter(tags=["categories"], dependencies=[Depends(admin_writer)], responses=AUTH_ERRORS)

CHANGE_ERRORS = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    404: {"model": ErrorBody, "description": "Unknown category"},
    409: {"model": ErrorBody, "description": "A cycle, a name taken, subcategories left, or reloads running"},
    422: {"model": ErrorBody | RequestValidationErrorBody, "description": "Unknown parent_id, or an invalid body"},
}


@admin_router.post("/categories", status_code=201, response_model=CategoryRead, responses=CHANGE_ERRORS)
async def create_category(uow: UowDep, new: CategoryCreate) -> CategoryRead:
    """Add a category, at the root or below `parent_id`."""
    return await service.create_category(uow, new)


@admin_router.patch("/categories/{category_id}", response_model=CategoryRead, responses=CHANGE_ERRORS)
async def change_category(uow: UowDep, category_id: CategoryId, change: CategoryChange) -> CategoryRead:
    """Rename (`name`) and/or move (`parent_id`; null: to the root). Counts follow in the same transaction."""
    return await service.change_category(uow, category_id, change)


@admin_router.delete("/categories/{category_id}", status_code=204, responses=CHANGE_ERRORS)
async def delete_category(uow: UowDep, category_id: CategoryId) -> Response:
    """Delete a category without subcategories; its movies stay, in their other categories."""
    await service.delete_category(uow, category_id)
    return Response(status_code=204)
