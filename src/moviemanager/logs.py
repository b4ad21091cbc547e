"""JSON log lines, and the middleware that times and logs every request."""

import json
import logging
import sys
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("moviemanager.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    """Send the service's own logs to stderr as JSON, once per process."""
    logger = logging.getLogger("moviemanager")
    logger.setLevel(level.upper())
    if not any(getattr(handler, "moviemanager", False) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler.moviemanager = True
        logger.addHandler(handler)
        logger.propagate = False


class RequestLogMiddleware:
    """Adds `X-Process-Time` (seconds) to every response and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_timing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed = time.perf_counter() - started
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-process-time", f"{elapsed:.6f}".encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_timing)
        finally:
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "query": scope.get("query_string", b"").decode("latin-1"),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }
            access_log.info("%s %s %s", scope["method"], scope["path"], status, extra={"fields": fields})
