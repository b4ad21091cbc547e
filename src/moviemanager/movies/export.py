"""Exporting a tenant's catalog as a CSV that POST /reload and `moviemanager load` read back."""

from collections.abc import AsyncIterator

from ..tenants.service import require_tenant
from ..uow import UnitOfWork
from .csv_export import catalog_chunks
from .repository import MovieFilters


async def export_catalog(uow: UnitOfWork, tenant: str, filters: MovieFilters) -> AsyncIterator[bytes]:
    """The tenant's matching movies as CSV byte chunks, by TMDB id; TenantNotFound before the first.

    The unit of work stays open (one connection, one transaction) until the last chunk is taken
    or the generator is closed.
    """
    async with uow:
        # The header's columns and the rows must come from the same catalog, even if a reload
        # commits between the two queries.
        await uow.read_only_snapshot()
        await require_tenant(uow, tenant)
        movies = uow.movies(tenant)
        extra_columns = await movies.extra_columns(filters)
        rows = await movies.stream_all(filters)
        async for chunk in catalog_chunks(extra_columns, rows):
            yield chunk
