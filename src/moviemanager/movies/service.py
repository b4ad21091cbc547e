"""Listing, fetching and replacing a tenant's movies."""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import BinaryIO, Literal

from ..errors import MovieNotFound, NoDefaultCsv
from ..tenants.service import is_valid_tenant_name, require_tenant
from ..uow import UnitOfWork
from .csv_import import MovieRow, read_catalog, tmdb_id_from_text
from .repository import MovieFilters
from .schemas import MovieRead, ReloadResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MoviePage:
    movies: list[MovieRead]
    has_next: bool
    total: int | None  # known when the listing spans more than one page


async def list_movies(uow: UnitOfWork, tenant: str, filters: MovieFilters, *, limit: int, offset: int = 0) -> MoviePage:
    """One page of a tenant's movies, ordered by TMDB id."""
    async with uow:
        await require_tenant(uow, tenant)
        movies = uow.movies(tenant)
        found = await movies.list(filters, limit=limit + 1, offset=offset)
        has_next = len(found) > limit
        if has_next:
            total = await movies.count(filters)
        elif offset and found:
            total = offset + len(found)
        else:
            total = None
        return MoviePage([MovieRead.from_movie(movie) for movie in found[:limit]], has_next, total)


async def get_movie(uow: UnitOfWork, tenant: str, tmdb_id: str) -> MovieRead:
    async with uow:
        await require_tenant(uow, tenant)
        key = tmdb_id_from_text(tmdb_id)
        movie = None if key is None else await uow.movies(tenant).get(key)
        if movie is None:
            raise MovieNotFound()
        return MovieRead.from_movie(movie)


async def reload_catalog(
    uow: UnitOfWork, tenant: str, csv_file: BinaryIO, *, source: Literal["upload", "default"]
) -> ReloadResult:
    """Replace the tenant's movies with the file's, registering the tenant if it is new.

    All or nothing: a file with any invalid row raises InvalidCsv before anything is written.
    """
    started = perf_counter()
    rows = await asyncio.to_thread(read_catalog, csv_file)
    async with uow:
        await _replace(uow, tenant, rows)
        await uow.commit()
    elapsed_ms = round((perf_counter() - started) * 1000, 1)
    return ReloadResult(tenant=tenant, loaded=len(rows), source=source, elapsed_ms=elapsed_ms)


async def reload_default_catalog(uow: UnitOfWork, tenant: str, csv_dir: Path) -> ReloadResult:
    with default_csv_path(csv_dir, tenant).open("rb") as csv_file:
        return await reload_catalog(uow, tenant, csv_file, source="default")


async def load_default_catalogs(new_uow: Callable[[], UnitOfWork], csv_dir: Path) -> list[str]:
    """On a database with no tenant yet, load every default CSV; return the tenants loaded."""
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
                rows = await asyncio.to_thread(read_catalog, csv_file)
            await _replace(uow, tenant, rows)
            log.info("loaded default catalog %s: %d movies", tenant, len(rows))
            loaded.append(tenant)
        await uow.commit()
    return loaded


def default_csv_path(csv_dir: Path, tenant: str) -> Path:
    """The tenant's default CSV; the (already validated) name can never leave csv_dir."""
    directory = csv_dir.resolve()
    path = (directory / f"{tenant}.csv").resolve()
    if path.parent != directory or not path.is_file():
        raise NoDefaultCsv(tenant)
    return path


async def _replace(uow: UnitOfWork, tenant: str, rows: list[MovieRow]) -> None:
    await uow.tenants.add_and_lock(tenant)
    await uow.movies(tenant).replace_all(rows)
