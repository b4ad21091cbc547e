"""The `moviemanager` command: a thin door to the same app and services as the HTTP API."""

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from .config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="moviemanager", description="Multi-tenant movie catalog service")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="Run the HTTP API (starts an embedded PostgreSQL unless DATABASE_URL is set)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="Address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="Port to listen on (default: %(default)s)")

    commands.add_parser("migrate", help="Apply the database migrations up to the newest one, then exit")

    export = commands.add_parser("export", help="Write a tenant's catalog as CSV, in the format POST /reload reads")
    export.add_argument("tenant", help="The tenant to export")
    export.add_argument("-o", "--output", type=Path, help="The file to write (default: standard output)")

    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "serve":
        return _serve(settings, args.host, args.port)
    if args.command == "export":
        return asyncio.run(_export(settings, args.tenant, args.output))
    return asyncio.run(_migrate(settings))


def _serve(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    from .app import create_app

    # The app logs each request itself (JSON, with timing), so uvicorn's access log is off.
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level, access_log=False)
    return 0


async def _migrate(settings: Settings) -> int:
    from .db import open_database
    from .migrations import current_revision

    async with open_database(settings.model_copy(update={"migrate_on_start": True})) as engine:
        print(f"database is at migration {await current_revision(engine)}", file=sys.stderr)
    return 0


async def _export(settings: Settings, tenant: str, output: Path | None) -> int:
    from .db import create_sessionmaker, open_database
    from .errors import TenantNotFound
    from .movies.export import export_catalog
    from .movies.repository import MovieFilters
    from .uow import UnitOfWork

    async with open_database(settings) as engine:
        chunks = export_catalog(UnitOfWork(create_sessionmaker(engine)), tenant, MovieFilters())
        try:
            first = await anext(chunks)  # before any output, so an unknown tenant leaves no file behind
        except TenantNotFound as exc:
            print(exc.detail, file=sys.stderr)
            return 1
        async with contextlib.aclosing(chunks):
            if output is None:
                await _write(sys.stdout.buffer, first, chunks)
            else:
                await _write_file(output, first, chunks)
    return 0


async def _write_file(path: Path, first: bytes, rest: AsyncIterator[bytes]) -> None:
    """Write aside, then rename: a cut-short export is still a valid CSV, and loading it would
    silently drop movies."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as file:
            await _write(file, first, rest)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


async def _write(file: BinaryIO, first: bytes, rest: AsyncIterator[bytes]) -> None:
    file.write(first)
    async for chunk in rest:
        file.write(chunk)
    file.flush()


if __name__ == "__main__":
    sys.exit(main())
