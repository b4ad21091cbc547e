"""Importing a tenant's catalog from an upload or its default CSV, and loading every default CSV
at a first start: what POST /reload and the app's start call (the CLI calls importer.import_catalog)."""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ...errors import NoDefaultCsv
from ...tenancy import is_valid_tenant_name
from ...uow import UnitOfWork
from ..schemas import ImportReport
from .importer import DEFAULT_OPTIONS, ImportOptions, import_catalog

log = logging.getLogger(__name__)


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
