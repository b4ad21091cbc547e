"""The one middleware around every request: the body cap, CORS and the request log.

It does what three middlewares did (the body cap, Starlette's CORSMiddleware, a timing and logging
one), in one ASGI layer that reads the request's headers once and wraps `send` once: three
layers cost a page from the page cache a tenth of its Python time (docs/performance.md).

- The body cap (limits.py) answers 413 inside CORS, so a browser can read it.
- CORS is Starlette's policy: a preflight gets Starlette's own answer; any other response to a
  request with an Origin allows it (`*`, or the origin itself when listed) and exposes the headers
  a browser client reads; every response varies on Origin.
- Every response carries X-Process-Time (seconds), and a tenant-scoped one X-Tenant, the tenant it
  used (tenancy.py); every request is logged once (logs.py) and counted in the metrics (metrics.py).
"""

import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .limits import BodyCap
from .logs import log_request
from .metrics import Metrics
from .tenancy import noted_tenant

CORS_METHODS = ["GET", "POST", "PATCH", "DELETE"]
EXPOSED_HEADERS = ["Link", "X-Total-Count", "X-Process-Time", "ETag", "X-Tenant"]


class RequestMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, cors_origins: list[str], metrics: Metrics | None = None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.body_cap = BodyCap(max_body_bytes)
        # Used for its policy only (preflights, allowed origins, the headers to add), never as a layer.
        self.cors = CORSMiddleware(
            app,
            allow_origins=cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=["*"],
            expose_headers=EXPOSED_HEADERS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        preflight = origin is not None and scope["method"] == "OPTIONS" and b"access-control-request-method" in headers
        status = 500

        async def send_marked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = response_headers = list(message.get("headers", []))
                if not preflight:
                    self._add_cors_headers(response_headers, origin)
                response_headers.append((b"x-process-time", b"%.6f" % (time.perf_counter() - started)))
                if (tenant := noted_tenant(scope)) is not None:
                    response_headers.append((b"x-tenant", tenant.encode()))
            await send(message)

        try:
            if preflight:
                await self.cors.preflight_response(request_headers=Headers(scope=scope))(scope, receive, send_marked)
            elif self.body_cap.refuses(headers.get(b"content-length")):
                await self.body_cap.response()(scope, receive, send_marked)
            else:
                await self.app(scope, self.body_cap.counting(receive), send_marked)
        finally:
            elapsed = time.perf_counter() - started
            log_request(scope, status, elapsed)
            if self.metrics is not None:
                self.metrics.request(scope, status, elapsed)

    def _add_cors_headers(self, headers: list[tuple[bytes, bytes]], origin: bytes | None) -> None:
        """What Starlette's CORSMiddleware adds to a response other than a preflight's."""
        if origin is not None:
            allowing = MutableHeaders(raw=headers)
            allowing.update(self.cors.simple_headers)
            if not self.cors.allow_all_origins and self.cors.is_allowed_origin(origin.decode("latin-1")):
                allowing["Access-Control-Allow-Origin"] = origin.decode("latin-1")
        _vary_on_origin(headers)


def _vary_on_origin(headers: list[tuple[bytes, bytes]]) -> None:
    """Adds Origin to the response's Vary header (to the first, should there be several: they
    read as one list). By hand, as MutableHeaders costs a request three times as much."""
    for index, (name, value) in enumerate(headers):
        if name == b"vary":
            headers[index] = (name, value + b", Origin")
            return
    headers.append((b"vary", b"Origin"))
