"""`moviemanager serve --workers N`: N server processes sharing one port (uvicorn's workers).

What must happen once happens here, in the parent, before the workers start: the embedded
PostgreSQL starts (its URL goes to the workers as DATABASE_URL), the migrations run, the default
catalogs load on a first start, the admin token and the cursor secret are made (the token printed
once). The workers are then told to skip the migrations and the default catalogs. What the workers
must agree on they read from the data directory (the admin token, the cursor secret) or the
database; each keeps its own data versions, told by its own listener (tenants/versions.py), so a
kept page of the old catalog is never answered once the news of a reload arrives.

The metrics of every worker are added up through files in a fresh directory named by
PROMETHEUS_MULTIPROC_DIR (metrics.py), set before anything records a metric and removed at exit.
"""

import argparse
import asyncio
import logging
import os
import tempfile

from .config import Settings

log = logging.getLogger(__name__)


def worker_count(value: str) -> int:
    """`--workers`: a number of processes, or `auto`: one per core this process may run on."""
    if value == "auto":
        counter = getattr(os, "process_cpu_count", None)  # Python 3.13+
        return (counter() if counter else len(os.sched_getaffinity(0))) or 1
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a number of processes (1 or more) or 'auto', not {value!r}")
    return count


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    with tempfile.TemporaryDirectory(prefix="moviemanager-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # before the first metric, here and in the workers
        import uvicorn

        from .auth import admin_token
        from .embedded import DATABASE_NAME, EmbeddedPostgres, ensure_database
        from .logs import configure_logging
        from .metrics import mark_process_gone
        from .movies.reading.cursor import secret_from

        configure_logging(settings.log_level)
        embedded = None
        try:
            if settings.database_url:
                database_url = settings.database_url
            else:
                embedded = EmbeddedPostgres(settings.embedded_pgdata)
                url = asyncio.run(ensure_database(embedded.start(), DATABASE_NAME))
                database_url = url.render_as_string(hide_password=False)
            admin_token(settings)  # made and printed here, once; the workers read it from the data directory
            if settings.cursor_secret is None:
                secret_from(None, settings.data_dir)
            asyncio.run(_prepare(settings.model_copy(update={"database_url": database_url})))
            mark_process_gone()  # the parent serves nothing: no live gauge of its own (its counters stay)
            os.environ.update(
                {
                    "DATABASE_URL": database_url,
                    "MOVIEMANAGER_MIGRATE_ON_START": "false",
                    "MOVIEMANAGER_LOAD_DEFAULTS": "false",
                }
            )
            log.info("starting %d server processes", workers)
            uvicorn.run(
                "moviemanager.main:create_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level=settings.log_level,
                access_log=False,
            )
        finally:
            if embedded is not None:
                embedded.stop()
    return 0


async def _prepare(settings: Settings) -> None:
    """Migrate (open_database does, as the owner), drop killed imports' leftovers, load the
    default catalogs on a first start: what the app's lifespan does when it runs alone."""
    from .db import create_sessionmaker, open_database
    from .movies.importing.parallel_build import drop_every_leftover
    from .movies.importing.service import load_default_catalogs
    from .uow import UnitOfWork

    async with open_database(settings) as engine:
        sessions = create_sessionmaker(engine, settings)
        await drop_every_leftover(lambda: UnitOfWork(sessions))
        if settings.load_defaults:
            loaded = await load_default_catalogs(lambda: UnitOfWork(sessions), settings.csv_dir)
            if loaded:
                log.info("first start: loaded default tenants %s", ", ".join(loaded))
