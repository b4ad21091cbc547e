"""JSON log lines, and the access log's line for each request (written by middleware.py)."""

import json
import logging
import sys

from starlette.types import Scope

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


def log_request(scope: Scope, status: int, seconds: float) -> None:
    """The access log's line for one request."""
    if not access_log.isEnabledFor(logging.INFO):
        return  # building the fields costs every request, and nobody would read them
    fields = {
        "method": scope["method"],
        "path": scope["path"],
        "query": scope.get("query_string", b"").decode("latin-1"),
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
    }
    access_log.info("%s %s %s", scope["method"], scope["path"], status, extra={"fields": fields})
