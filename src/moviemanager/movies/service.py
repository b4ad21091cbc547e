"""Listing, fetching and importing a tenant's movies."""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import NoDefaultCsv
from ..tenants.service import is_valid_tenant_name, require_data_version
from ..uow import UnitOfWork
from .caching import Conditional, NotModified
from .facets import facet_body
from .importer import DEFAULT_OPTIONS, ImportOptions, import_catalog
from .repository import MovieFilters
from .schemas import ImportReport

log = logging.getLogger(__name__)


async def movie_facets(
    uow: UnitOfWork, tenant: str, filters: MovieFilters, *, conditional: Conditional
) -> tuple[str, dict[str, Any]]:
    """(ETag, counts per genre, year and rating bucket of the movies matching `filters`)."""
    async with uow.for_tenant(tenant):
        etag = conditional.etag(await require_data_version(uow, tenant))
        if conditional.not_modified(etag):
            raise NotModified(etag)
        rows = await uow.movies(tenant).facets(filters)
        return etag, facet_body(rows)


async def reload_catalog(
    uow: UnitOfWork, tenant: str, csv_file: BinaryIO, options: ImportOptions = DEFAULT_OPTIONS
) -> ImportReport:
    """Import an uploaded CSV into the tenant (see importer.import_catalog)."""
    return await import_catalog(uow, tenant, csv_file, options, source_name="upload")


async def reload_default_catalog(
    uow: UnitOfWork, tenant: str, csv_dir: Path, options: ImportOptions = DEFAULT_OPTIONS
) -> ImportReport:
    with default_csv_path(csv_dir, tenant).open("rb") as csv_file:
        return await import_catalog(uow, tenant, csv_file, options, source_name="default")


async def load_default_catalogs(new_uow: Callable[[], UnitOfWork], csv_dir: Path) -> list[str]:
    """On a database with no tenant yet, load every default CSV; return the tenants loaded.

    The registry lock makes concurrent first starts wait, then find the tenants already there.
    """
    async with new_uow() as uow:
        await uow.tenants.lock_registry()
        if await uow.tenants.any_exist():
            return []
        loaded = []
        for path in sorted(csv_dir.glob("*.csv")):
            tenant = path.stem
            if not is_valid_tenant_name(tenant):
                log.warning("skipping default CSV %s: its name is not a valid tenant name", path.name)
                continue
            with path.open("rb") as csv_file:
                report = await import_catalog(new_uow(), tenant, csv_file, source_name="default")
            log.info("loaded default catalog %s: %d movies", tenant, report.loaded)
            loaded.append(tenant)
        await uow.commit()  # releases the registry lock
    return loaded


def default_csv_path(csv_dir: Path, tenant: str) -> Path:
    """The tenant's default CSV; the (already validated) name can never leave csv_dir."""
    directory = csv_dir.resolve()
    path = (directory / f"{tenant}.csv").resolve()
    if path.parent != directory or not path.is_file():
        raise NoDefaultCsv(tenant)
    return path
