"""The responses of the movie reads, built in one place: the routes (router.py) and the answers
from memory (cached_answers.py) must send the same bytes."""

from urllib.parse import urlencode

from starlette.datastructures import URL
from starlette.responses import Response
from starlette.types import Scope

from .etags import CACHE_CONTROL, VARY
from .views import MoviePage


def caching_headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": VARY}


def not_modified(etag: str) -> Response:
    return Response(status_code=304, headers=caching_headers(etag))


def page_response(page: MoviePage, scope: Scope, query: list[tuple[str, str]]) -> Response:
    """A page of movies (with its Link and X-Total-Count), or one movie; `query`: the request's
    parameters, as Starlette parses them."""
    headers = caching_headers(page.etag)
    if page.next_cursor is not None:
        headers["Link"] = f'<{next_page_url(scope, query, page.next_cursor)}>; rel="next"'
    if page.total is not None:
        headers["X-Total-Count"] = str(page.total)
    return Response(page.body, media_type="application/json", headers=headers)


def next_page_url(scope: Scope, query: list[tuple[str, str]], cursor: str) -> str:
    """The request's URL continuing at `cursor` (and no offset)."""
    kept = [(name, value) for name, value in query if name not in ("offset", "cursor")]
    continued = urlencode([*kept, ("cursor", cursor)])
    # Built as Request.url is, with the new query: URL.replace() would build the URL, then parse
    # it again, for twice the cost.
    return str(URL(scope={**scope, "query_string": continued.encode()}))
