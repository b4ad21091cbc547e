from fastapi import APIRouter

from ..deps import UowDep
from . import service

router = APIRouter(tags=["tenants"])


@router.get("/tenants", response_model=list[str])
async def list_tenants(uow: UowDep) -> list[str]:
    """Every tenant's name, sorted."""
    return await service.list_tenants(uow)
