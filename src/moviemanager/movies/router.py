import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse

from ..auth import AUTH_ERRORS, TenantWriterDep
from ..deps import SettingsDep, TenantDep, UowDep
from ..errors import CsvErrorBody, ErrorBody, InvalidUpload, RequestValidationErrorBody, UnsupportedMediaType
from ..uow import UnitOfWork
from .columns import tmdb_id_from_text
from .exporting.service import export_catalog
from .genres import Language
from .importing.importer import ImportOptions, Mode, OnError
from .importing.service import reload_catalog, reload_default_catalog
from .reading import views
from .reading.cursor import cursor_codec
from .reading.etags import Conditional, NotModified, request_conditional
from .reading.filters import MovieFilters
from .reading.params import FiltersDep, ListParams, MovieParams, openapi_parameters, request_language, request_tenant
from .reading.responses import caching_headers, not_modified, page_response
from .reading.statements import Listing
from .schemas import Facets, ImportReport, MovieRead

router = APIRouter(tags=["movies"])

TENANT_ERRORS = {
    400: {"model": ErrorBody, "description": "No tenant named"},
    404: {"model": ErrorBody, "description": "Unknown tenant or movie"},
}

# For a route whose response class is CSV: "model" would document its errors as text/csv too.
JSON_TENANT_ERRORS = {
    status: {
        "description": error["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for status, error in TENANT_ERRORS.items()
}


# The longest body read as JSON for "no file": null or {} with some whitespace.
MAX_EMPTY_JSON = 64


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


LISTING_ERRORS = {
    400: {"model": ErrorBody, "description": "No tenant named; a cursor not issued for this listing; q without words"},
}
VALIDATION_ERROR = {"model": RequestValidationErrorBody, "description": "A parameter or header is invalid"}
NOT_MODIFIED = {"description": "The ETag in If-None-Match is current: the tenant was not reloaded since"}

CSV_CATALOG = {
    "content": {"text/csv": {"schema": {"type": "string"}}},
    "description": "The catalog as CSV, in the format POST /reload reads, as an attachment named <tenant>.csv",
}


@router.get(
    "/movies",
    response_model=list[MovieRead],
    responses={**TENANT_ERRORS, **LISTING_ERRORS, 200: CSV_CATALOG, 304: NOT_MODIFIED, 422: VALIDATION_ERROR},
    openapi_extra={"parameters": openapi_parameters(ListParams)},
)
async def list_movies(request: Request) -> Response:
    """A page of the tenant's movies; the body is a bare array.

    Every page that has a successor carries `Link: <…>; rel="next"` (a signed keyset cursor).
    Responses carry an ETag; `If-None-Match` with it answers 304 until the tenant is reloaded.
    With `format=csv` the response is a CSV file of every matching movie by TMDB id: the filters
    apply, `sort`, `limit`, `cursor` and `offset` do not.
    """
    params = ListParams.from_request(request)
    tenant = request_tenant(request, params.tenant)
    filters = params.filters()
    if params.format == "csv":
        uow = UnitOfWork(request.app.state.sessions, replicas=request.app.state.replicas)
        return await _csv_download(uow, tenant, filters)
    listing = Listing(
        filters=filters,
        sort=params.sort,
        limit=params.limit,
        offset=params.offset,
        cursor=params.cursor,
        count=params.count,
    )
    language = request_language(request)
    try:
        page = await views.list_movies(
            request.app.state.read_pool,
            request.app.state.caches,
            tenant,
            listing,
            cursors=await cursor_codec(request),
            conditional=_conditional(request, tenant, language),
            language=language,
        )
    except NotModified as exc:
        return not_modified(exc.etag)
    return page_response(page, request.scope, request.query_params.multi_items())


@router.get("/movies/facets", response_model=Facets, responses={**TENANT_ERRORS, **LISTING_ERRORS, 304: NOT_MODIFIED})
async def movie_facets(request: Request, tenant: TenantDep, filters: FiltersDep) -> Response:
    """Counts of the movies matching the filters (those of GET /movies): in total, per genre, per
    year and per rating bucket, in one query. Reads every matching movie: slower on big catalogs
    than a page, so cache it (ETag, If-None-Match)."""
    try:
        etag, body = await views.read_facets(
            request.app.state.read_pool,
            request.app.state.caches.versions,
            tenant,
            filters,
            conditional=_conditional(request, tenant),
        )
    except NotModified as exc:
        return not_modified(exc.etag)
    return _json(body, etag)


def _conditional(request: Request, tenant: str, language: Language | None = None) -> Conditional:
    return request_conditional(request.scope, request.query_params.multi_items(), tenant, language)


def _json(body: Any, etag: str) -> Response:
    return Response(orjson.dumps(body), media_type="application/json", headers=caching_headers(etag))


@router.get("/movies.csv", response_class=CsvResponse, responses={**JSON_TENANT_ERRORS, 200: CSV_CATALOG})
async def export_movies(uow: UowDep, tenant: TenantDep) -> CsvResponse:
    """The tenant's whole catalog as a CSV file that POST /reload accepts back."""
    return await _csv_download(uow, tenant, MovieFilters())


async def _csv_download(uow: UnitOfWork, tenant: str, filters: MovieFilters) -> CsvResponse:
    chunks = export_catalog(uow, tenant, filters)
    # Taken before the response starts, so an unknown tenant is still a JSON 404.
    first = await anext(chunks)
    headers = {"Content-Disposition": f'attachment; filename="{tenant}.csv"'}
    return CsvResponse(_chained(first, chunks), headers=headers)


async def _chained(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(rest):  # removes the export's spool file even if the client leaves
        yield first
        async for chunk in rest:
            yield chunk


@router.get(
    "/movies/{tmdb_id}",
    response_model=MovieRead,
    responses={**TENANT_ERRORS, 304: NOT_MODIFIED, 422: VALIDATION_ERROR},
    openapi_extra={"parameters": openapi_parameters(MovieParams)},
)
async def get_movie(request: Request, tmdb_id: str) -> Response:
    """One movie of the tenant, by TMDB id; ETag and If-None-Match as for GET /movies."""
    tenant = request_tenant(request, MovieParams.from_request(request).tenant)
    language = request_language(request)
    try:
        movie = await views.get_movie(
            request.app.state.read_pool,
            request.app.state.caches,
            tenant,
            tmdb_id_from_text(tmdb_id),
            conditional=_conditional(request, tenant, language),
            language=language,
        )
    except NotModified as exc:
        return not_modified(exc.etag)
    return page_response(movie, request.scope, request.query_params.multi_items())


@router.post(
    "/reload",
    response_model=ImportReport,
    responses={
        **TENANT_ERRORS,
        **AUTH_ERRORS,
        404: {"model": ErrorBody, "description": "No file sent and the tenant has no default CSV"},
        415: {"model": ErrorBody, "description": "The body is neither multipart/form-data nor the JSON null or {}"},
        409: {"model": ErrorBody, "description": "Long reads kept the catalog busy; nothing was changed, retry"},
        422: {
            "model": CsvErrorBody | ErrorBody | RequestValidationErrorBody,
            "description": "The CSV or the request is invalid, or the import would empty or gut the catalog"
            " without allow_shrink; nothing was changed",
        },
    },
)
async def reload(
    request: Request,
    writer: TenantWriterDep,
    settings: SettingsDep,
    uow: UowDep,
    tenant: TenantDep,
    file: Annotated[UploadFile | None, File(description="A catalog CSV; without it the default CSV")] = None,
    mode: Annotated[Mode, Query(description="replace: the file becomes the catalog; merge: add, update")] = "replace",
    dry_run: Annotated[bool, Query(description="Validate and report what would change, write nothing")] = False,
    on_error: Annotated[OnError, Query(description="fail: a bad row rejects the file; skip: load the rest")] = "fail",
    allow_shrink: Annotated[
        bool, Query(description="Allow a replace that empties the catalog or removes more than 90% of it")
    ] = False,
    encoding: Annotated[
        str | None,
        Query(max_length=40, description="The file's text encoding, e.g. cp1252; default: UTF-8, or UTF-16 by its BOM"),
    ] = None,
) -> ImportReport:
    """Replace (or merge into) the tenant's movies, atomically, from an uploaded CSV or the default one.

    Needs `Authorization: Bearer <token>`: the admin token, or a token of this tenant.
    No body, or the JSON `null` or `{}`, reloads the tenant's default CSV.

    The file is parsed as it streams into PostgreSQL's COPY; the report comes after COMMIT.
    """
    await _check_upload_shape(request)
    options = ImportOptions(mode=mode, dry_run=dry_run, on_error=on_error, allow_shrink=allow_shrink, encoding=encoding)
    if file is None:
        return await reload_default_catalog(uow, tenant, settings.csv_dir, options)
    return await reload_catalog(uow, tenant, file.file, options)


async def _check_upload_shape(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        if len(form.getlist("file")) > 1:
            raise InvalidUpload("Send one file part named 'file', not several")
        if len(form) and "file" not in form:
            # A misnamed part must not fall back to the default CSV: that would replace the catalog.
            raise InvalidUpload(
                f"The body has no part named 'file' (found {', '.join(repr(k[:40]) for k in list(form)[:5])}); "
                "send the CSV as the field 'file', or no body at all for the default CSV"
            )
        return
    if content_type and has_body and not await _is_empty_json(request, content_type):
        raise UnsupportedMediaType(
            "Upload the CSV as multipart/form-data with the file in the field 'file';"
            " for the tenant's default CSV send no body, or the JSON null or {}"
        )


async def _is_empty_json(request: Request, content_type: str) -> bool:
    """A JSON body of null or {}: what a JSON client (axios) sends for "no file"."""
    length = request.headers.get("content-length", "")
    if not content_type.startswith("application/json") or not length.isdigit() or int(length) > MAX_EMPTY_JSON:
        return False
    try:
        return orjson.loads(await request.body()) in (None, {})
    except orjson.JSONDecodeError:
        return False
