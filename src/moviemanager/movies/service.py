"""Listing, fetching and importing a tenant's movies."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from ..errors import InvalidCursor, InvalidListing, MovieNotFound, NoDefaultCsv
from ..tenants.service import is_valid_tenant_name, require_data_version
from ..uow import UnitOfWork
from .caching import Conditional, NotModified
from .csv_import import tmdb_id_from_text
from .cursor import CursorCodec
from .facets import facet_body
from .genres import Language
from .importer import DEFAULT_OPTIONS, ImportOptions, import_catalog
from .ordering import Order, Sort, order_for
from .repository import MovieFilters
from .schemas import ImportReport, movie_json

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Listing:
    """What selects one page: filters, order, size, and where to start (a cursor, or an offset)."""

    filters: MovieFilters
    sort: Sort | None = None
    limit: int
    offset: int = 0
    cursor: str | None = None
    count: Literal["exact", "estimated"] | None = None

    def order(self) -> Order:
        sort = self.sort or ("relevance" if self.filters.search else "tmdb_id")
        if sort == "relevance" and not self.filters.search:
            raise InvalidListing("sort=relevance needs a search: add q")
        return order_for(sort, self.filters.search)


@dataclass(frozen=True)
class MoviePage:
    movies: list[dict[str, Any]]  # as MovieRead shows them (schemas.movie_json)
    next_cursor: str | None
    total: int | None  # with `count` only
    etag: str


async def list_movies(
    uow: UnitOfWork,
    tenant: str,
    listing: Listing,
    *,
    cursors: CursorCodec,
    conditional: Conditional,
    language: Language | None = None,
) -> MoviePage:
    """One page of a tenant's movies. Raises NotModified when the client's ETag is current,
    having read only the tenant's row."""
    order = listing.order()
    scope = cursor_scope(tenant, order, listing.filters)
    after: tuple = ()
    if listing.cursor is not None:
        if listing.offset:
            raise InvalidListing("send either cursor or offset, not both")
        key, tmdb_id = cursors.decode(listing.cursor, scope)
        try:
            after = (order.key_from_json(key), tmdb_id)
        except (ValueError, ArithmeticError):
            raise InvalidCursor("its position does not fit this sort") from None
    # A count is a second read: with it, one snapshot, so page and count see the same reload.
    async with uow.for_tenant(tenant, read_only_snapshot=listing.count is not None):
        etag = conditional.etag(await require_data_version(uow, tenant))
        if conditional.not_modified(etag):
            raise NotModified(etag)
        movies = uow.movies(tenant)
        rows = await movies.page(listing.filters, order, limit=listing.limit + 1, offset=listing.offset, after=after)
        next_cursor = None
        if len(rows) > listing.limit:
            last, last_key = rows[listing.limit - 1]
            next_cursor = cursors.encode(scope, order.key_to_json(last_key), last.tmdb_id)
        total = None
        if listing.count == "exact":
            total = await movies.count(listing.filters)
        elif listing.count == "estimated":
            total = await movies.estimated_count(listing.filters)
        movies_shown = [movie_json(movie, language) for movie, _ in rows[: listing.limit]]
        return MoviePage(movies_shown, next_cursor, total, etag)


def cursor_scope(tenant: str, order: Order, filters: MovieFilters) -> str:
    """What a cursor is bound to: it continues only the listing that issued it."""
    return f"{tenant}|{order.name}|{filters.canonical().decode()}"


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


async def get_movie(
    uow: UnitOfWork, tenant: str, tmdb_id: str, *, conditional: Conditional, language: Language | None = None
) -> tuple[str, dict]:
    """(ETag, the movie as MovieRead shows it)."""
    async with uow.for_tenant(tenant):
        etag = conditional.etag(await require_data_version(uow, tenant))
        if conditional.not_modified(etag):
            raise NotModified(etag)
        key = tmdb_id_from_text(tmdb_id)
        movie = None if key is None else await uow.movies(tenant).get(key)
        if movie is None:
            raise MovieNotFound()
        return etag, movie_json(movie, language)


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
