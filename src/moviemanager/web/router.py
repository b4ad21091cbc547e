"""The HTML pages: the catalog (`/`), a movie (`/movie/{tenant}/{tmdb_id}`), the admin page
(`/admin`), and the fingerprinted static files (`/static/…`). An error the API would answer as
JSON is a page here, with the same status and `detail`."""

import functools
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError

from ..errors import DomainError, MovieNotFound, TenantNotFound
from ..movies.columns import tmdb_id_from_text
from ..movies.genres import Language
from ..movies.reading import views
from ..movies.reading.etags import Conditional, request_key
from ..tenancy import is_valid_tenant_name
from ..tenants import service as tenants
from ..uow import UnitOfWork
from .assets import Assets
from .catalog import MAX_SHOWN, CatalogParams, read_catalog, validation_messages
from .i18n import COOKIE, LANGUAGES, MESSAGES, request_ui_language, translator

router = APIRouter(include_in_schema=False)

SORT_CHOICES = ("tmdb_id", "-rating", "rating", "-year", "year", "title", "-title")
COOKIE_SECONDS = 365 * 24 * 3600


@functools.cache
def assets() -> Assets:
    return Assets()


@functools.cache
def templates() -> Environment:
    environment = Environment(
        loader=PackageLoader("moviemanager.web", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["static_url"] = lambda name: assets().url(name)
    environment.filters["web_url"] = web_url
    return environment


def web_url(value: object) -> str | None:
    """A link or image address from a catalog, if it is http(s): never a javascript: URL."""
    text = str(value or "").strip()
    return text if text.lower().startswith(("https://", "http://")) else None


def render(request: Request, language: Language, template: str, *, status: int = 200, **context: Any) -> Response:
    query = [(name, value) for name, value in request.query_params.multi_items() if name != "lang"]
    switch = {lang: "?" + urlencode([*query, ("lang", lang)]) for lang in LANGUAGES}
    html = (
        templates()
        .get_template(template)
        .render(t=translator(language), lang=language, switch=switch, path=request.url.path, **context)
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Content-Language"] = language
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers["Cache-Control"] = "no-cache"
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(COOKIE, language, max_age=COOKIE_SECONDS, samesite="lax")
    return response


def error_page(request: Request, language: Language, status: int, detail: str) -> Response:
    return render(request, language, "error.html", status=status, status_code=status, detail=detail)


def domain_error_page(request: Request, language: Language, exc: DomainError) -> Response:
    detail = exc.body().get("detail", "")
    return error_page(request, language, exc.status_code, detail if isinstance(detail, str) else str(detail))


@router.get("/", response_class=HTMLResponse)
async def catalog(request: Request) -> Response:
    language = request_ui_language(request)
    try:
        params = CatalogParams.from_request(request)
    except ValidationError as exc:
        return error_page(request, language, 400, validation_messages(exc))
    try:
        view = await read_catalog(request, params, language)
    except DomainError as exc:
        return domain_error_page(request, language, exc)
    params = params.model_copy(update={"tenant": view.tenant})
    return render(
        request,
        language,
        "catalog.html",
        view=view,
        params=params,
        sorts=("relevance", *SORT_CHOICES) if params.q else SORT_CHOICES,
        open_ids=ancestors(view.tree, params.category),
        max_shown=MAX_SHOWN,
    )


def ancestors(tree: list[dict[str, Any]], category: int | None) -> set[int]:
    """The ids from a root down to `category` (itself included): the tree's nodes shown open."""
    if category is None:
        return set()
    for node in tree:
        if node["id"] == category:
            return {category}
        if found := ancestors(node["subcategories"], category):
            return {node["id"], *found}
    return set()


@router.get("/movie/{tenant}/{tmdb_id}", response_class=HTMLResponse)
async def movie(request: Request, tenant: str, tmdb_id: str) -> Response:
    language = request_ui_language(request)
    try:
        if not is_valid_tenant_name(tenant):
            raise TenantNotFound(tenant[:64])
        page = await views.get_movie(
            request.app.state.read_pool,
            request.app.state.caches,
            tenant,
            tmdb_id_from_text(tmdb_id),
            conditional=Conditional(request_key(tenant, "/web/movie", [("id", tmdb_id)], language)),
            language=language,
        )
    except (TenantNotFound, MovieNotFound) as exc:
        return domain_error_page(request, language, exc)
    return render(request, language, "movie.html", movie=orjson.loads(page.body), tenant=tenant)


@router.get("/admin", response_class=HTMLResponse)
async def admin(request: Request) -> Response:
    language = request_ui_language(request)
    names = await tenants.list_tenants(UnitOfWork(request.app.state.sessions))
    messages = orjson.dumps(MESSAGES[language]).decode().replace("</", "<\\/")
    return render(request, language, "admin.html", tenants=names, messages=messages)


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
async def static(request: Request, name: str) -> Response:
    head = request.method == "HEAD"
    return assets().response(name, head=head) or Response(
        b"" if head else b"Not found", status_code=404, media_type="text/plain"
    )
