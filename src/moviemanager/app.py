"""The FastAPI application: create_app(settings) wires routers, middleware and error handlers;
the lifespan owns the database (embedded server, migrations, engine) and loads default catalogs."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.ext.asyncio import AsyncEngine

from . import __version__
from .accounts.router import router as accounts_router
from .auth import admin_token
from .categories.admin import admin_router as category_admin_router
from .categories.router import router as categories_router
from .config import Settings
from .db import create_sessionmaker, open_database
from .error_handlers import install_error_handlers
from .health import router as health_router
from .logs import configure_logging
from .metrics import Metrics, mark_process_gone, multiprocess_mode
from .metrics_router import router as metrics_router
from .middleware import RequestMiddleware
from .movies.importing.parallel_build import drop_every_leftover
from .movies.importing.service import load_default_catalogs
from .movies.reading.cached_answers import AnswersFromMemory
from .movies.reading.page_cache import PageCache
from .movies.reading.views import Caches
from .movies.router import router as movies_router
from .read_pool import ReadPool, connect_args, engine_pool_stats
from .tenants.router import router as tenants_router
from .tenants.versions import LISTENER_NAME, SESSION_KEY, DataVersions
from .uow import UnitOfWork
from .web.router import router as web_router

log = logging.getLogger(__name__)

# FastAPI's own OpenTelemetry, off: it asks OpenTelemetry's global providers on every request (three
# environment lookups) though the service configures none.
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    configure_logging(settings.log_level)
    app.state.admin_token = admin_token(settings)
    async with open_database(settings) as engine, serving(app, engine):
        await drop_every_leftover(lambda: UnitOfWork(app.state.sessions))
        if settings.load_defaults:
            loaded = await load_default_catalogs(lambda: UnitOfWork(app.state.sessions), settings.csv_dir)
            if loaded:
                log.info("first start: loaded default tenants %s", ", ".join(loaded))
        log.info("ready")
        yield


@asynccontextmanager
async def serving(app: FastAPI, engine: AsyncEngine) -> AsyncIterator[None]:
    """Give the app its database while the block lasts: sessions for units of work (SQLAlchemy),
    the read pool of the hot reads (read_pool.py), and the listener keeping the tenants' data
    versions in memory (tenants/versions.py)."""
    settings: Settings = app.state.settings
    versions: DataVersions = app.state.caches.versions
    app.state.engine = engine
    app.state.sessions = create_sessionmaker(engine, settings, info={SESSION_KEY: versions})
    app.state.read_pool = read_pool = await ReadPool.open(engine, settings, versions=versions)
    app.state.replicas = read_pool.replicas
    metrics: Metrics | None = app.state.metrics
    sampler = None
    if metrics is not None:
        pools = {"sessions": lambda: engine_pool_stats(engine), "reads": read_pool.stats}
        metrics.attach(pools=pools, page_cache=app.state.caches.bodies, versions=versions)
        metrics.watch_replicas(read_pool.replica_states)
        if multiprocess_mode():  # the other processes' scrapes read this one's last sample
            sampler = asyncio.create_task(metrics.keep_sampling())
    watcher = None
    if settings.listen_data_versions:
        arguments = connect_args(engine)
        arguments["server_settings"] = {**arguments.get("server_settings", {}), "application_name": LISTENER_NAME}
        watcher = asyncio.create_task(versions.watch(lambda: asyncpg.connect(**arguments)))
    try:
        yield
    finally:
        if sampler is not None:
            sampler.cancel()
            mark_process_gone()
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        app.state.replicas = None
        await read_pool.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Settings are read from the environment here when not given; nothing
    touches the database until the lifespan starts."""
    app = FastAPI(title="Movie Manager", version=__version__, lifespan=lifespan, telemetry=NO_TELEMETRY)
    app.state.settings = settings or Settings()
    # A given token is known at once; a generated one is read (or made) when the lifespan starts.
    given = app.state.settings.admin_token
    app.state.admin_token = given.get_secret_value() if given is not None else None
    # The versions know nothing until serving() starts their listener.
    app.state.caches = Caches(DataVersions(), PageCache(app.state.settings.page_cache_mb * 2**20))
    app.state.metrics = Metrics() if app.state.settings.metrics != "off" else None
    app.state.replicas = None  # read replicas for units of work that only read: serving() sets them
    # Added first, so it runs inside RequestMiddleware (CORS, the body cap and the log apply to it).
    app.add_middleware(AnswersFromMemory)
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=app.state.settings.max_upload_mb * 2**20,
        cors_origins=app.state.settings.cors_origins,
        metrics=app.state.metrics,
    )
    install_error_handlers(app)
    # The routers' routes join the app's own, where app.include_router would keep each router as a
    # branch that FastAPI matches twice a request. An inclusion would add
    # nothing here: no prefix, and a router's tags and dependencies are on its routes already (the
    # category administration's write guard among them).
    for router in (
        movies_router,
        tenants_router,
        categories_router,
        health_router,
        category_admin_router,
        accounts_router,
        web_router,
    ):
        app.router.routes.extend(router.routes)
    if app.state.metrics is not None:
        app.router.routes.extend(metrics_router.routes)
    return app
