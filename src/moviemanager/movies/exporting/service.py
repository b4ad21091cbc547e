"""Exporting a tenant's catalog as a CSV that POST /reload and `moviemanager load` read back."""

import tempfile
from collections.abc import AsyncIterator

from ...tenants.service import require_tenant
from ...uow import UnitOfWork
from ..reading.filters import MovieFilters
from .csv_writer import CHUNK_CHARS, catalog_chunks

SPOOL_MEMORY_BYTES = 8 * 1024 * 1024  # a larger export goes on to a temporary file


async def export_catalog(uow: UnitOfWork, tenant: str, filters: MovieFilters) -> AsyncIterator[bytes]:
    """The tenant's matching movies as CSV byte chunks, by TMDB id; TenantNotFound before the first.

    The whole file is spooled before the first chunk is yielded: the transaction (and the locks
    that reloads wait for) lasts as long as the database read, not as long as a slow client takes
    to download, and any error comes before the first byte.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:

        async def read() -> None:
            spool.seek(0)
            spool.truncate()  # what a failed read on a replica wrote
            # The header's columns and the rows must come from the same catalog, even if a reload
            # commits between the two queries.
            async with uow.for_tenant(tenant, read_only_snapshot=True, replica=True):
                await require_tenant(uow, tenant)
                movies = uow.movies(tenant)
                extra_columns = await movies.extra_columns(filters)
                async for chunk in catalog_chunks(extra_columns, await movies.stream_all(filters)):
                    spool.write(chunk)

        await uow.reading(read)
        spool.seek(0)
        while chunk := spool.read(CHUNK_CHARS):
            yield chunk
