"""ASGI entry point: `uvicorn moviemanager.main:app` (or `--factory moviemanager.main:create_app`).

`app` is built on first access, not at import, so importing this module reads no settings;
the database is opened only when the server starts (the app's lifespan).
"""

from functools import cache

from fastapi import FastAPI

from .app import create_app


@cache
def _app() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> FastAPI:  # PEP 562: `main.app` builds the app on first access
    if name == "app":
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
