"""Answers from memory, before routing: a GET /movies or GET /movies/{tmdb_id} whose response this
process computed earlier and still keeps.

The page cache (page_cache.py, filled by views.py) keeps pages and movies by ETag, and an ETag
names the tenant's data version and the request (etags.Conditional). When the tenant's version is
in memory (tenants/versions.py), finding the entry costs no query; answering from it here costs no
routing, no validation and no handler either, about half of the Python a 304 or a cached page
cost otherwise (docs/performance.md).

Validating the request again is not needed: an entry exists only because a request with the same
key (tenant, language, path, every parameter) was valid and answered, and the answer cannot have
changed since (same data version). Anything else goes to the routes, which answer it as before:
another path or method, no tenant, a version or an entry not in memory. Reads need no token
(README, Security): should they ever need one, it must be checked here first.
"""

from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ...metrics import note_route
from ...tenancy import chosen_tenant, note_tenant
from ..genres import preferred_language
from .etags import first_header, request_conditional
from .responses import not_modified, page_response
from .views import Caches


class AnswersFromMemory:
    """ASGI middleware: see the module's docstring. The caches are the app's (`app.state.caches`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and _is_movie_read(scope["path"]):
            response = _answer(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_movie_read(path: str) -> bool:
    return path == "/movies" or path.startswith("/movies/")


def _answer(scope: Scope) -> Response | None:
    caches: Caches = scope["app"].state.caches
    if not caches.bodies.enabled:
        return None
    query = QueryParams(scope["query_string"]).multi_items()  # as Request.query_params parses it
    tenant = _tenant(scope, query)
    if tenant is None:
        return None
    version = caches.versions.get(tenant)
    if version is None:
        return None
    language = preferred_language(first_header(scope, b"accept-language"))
    conditional = request_conditional(scope, query, tenant, language)
    etag = conditional.etag(version)
    page = caches.bodies.get(etag)
    if page is None:
        return None
    note_tenant(scope, tenant)
    note_route(scope, "/movies" if scope["path"] == "/movies" else "/movies/{tmdb_id}")
    if conditional.not_modified(etag):
        return not_modified(etag)
    return page_response(page, scope, query)


def _tenant(scope: Scope, query: list[tuple[str, str]]) -> str | None:
    """The tenant as the routes take it (tenancy.py): the last `tenant` parameter, else the X-Tenant
    header; None when there is none."""
    parameter = None
    for name, value in query:
        if name == "tenant":
            parameter = value
    return chosen_tenant(first_header(scope, b"x-tenant"), parameter)
