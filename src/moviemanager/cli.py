"""The `moviemanager` command: a thin door to the same app and services as the HTTP API."""

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from .accounts.commands import add_user_commands, run_user_command
from .config import Settings
from .progress import ProgressLine
from .workers import serve_workers, worker_count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="moviemanager", description="Multi-tenant movie catalog service")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="Run the HTTP API (starts an embedded PostgreSQL unless DATABASE_URL is set)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="Address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="Port to listen on (default: %(default)s)")
    serve.add_argument(
        "--workers",
        type=worker_count,
        default=1,
        help="Server processes on the port: a number, or 'auto' for one per core (default: %(default)s)",
    )

    commands.add_parser("migrate", help="Apply the database migrations up to the newest one, then exit")

    load = commands.add_parser(
        "load",
        help="Import a catalog CSV into a tenant, like POST /reload, with a progress line",
        description="Import a catalog CSV into TENANT through the same service as POST /reload, "
        "against the server's database (embedded, or DATABASE_URL). Prints the import report as JSON.",
    )
    load.add_argument("tenant", help="Tenant name (created if new)")
    load.add_argument("file", help="CSV file to read, or - for standard input")
    load.add_argument("--mode", choices=["replace", "merge"], default="replace", help="(default: %(default)s)")
    load.add_argument("--dry-run", action="store_true", help="Validate and report, write nothing")
    load.add_argument("--on-error", choices=["fail", "skip"], default="fail", help="(default: %(default)s)")
    load.add_argument("--allow-shrink", action="store_true", help="Allow emptying or gutting the catalog")
    load.add_argument("--encoding", help="The file's encoding (default: UTF-8, or UTF-16 by its BOM)")
    load.add_argument("--quiet", action="store_true", help="No progress line")

    export = commands.add_parser("export", help="Write a tenant's catalog as CSV, in the format POST /reload reads")
    export.add_argument("tenant", help="The tenant to export")
    export.add_argument("-o", "--output", type=Path, help="The file to write (default: standard output)")

    token = commands.add_parser(
        "token",
        help="Tenant-scoped API tokens: create, list, revoke",
        description="Tokens that may write one tenant (POST /reload). The admin token "
        "(MOVIEMANAGER_ADMIN_TOKEN or DATA_DIR/admin_token) may write every tenant.",
    )
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="Print a new token for TENANT (shown this once)")
    create.add_argument("--tenant", required=True, help="The tenant the token may write")
    create.add_argument("--note", help="What the token is for, shown by `token list`")
    listing = token_commands.add_parser("list", help="The tokens' ids, tenants and notes (never the tokens)")
    listing.add_argument("--tenant", help="Only this tenant's tokens")
    revoke = token_commands.add_parser("revoke", help="Delete a token: it stops working at once")
    revoke.add_argument("--tenant", required=True, help="The token's tenant")
    revoke.add_argument("id", help="The token's id, as printed by `token create` and `token list`")

    add_user_commands(commands)

    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "token":
        return asyncio.run(_token(settings, args))
    if args.command == "user":
        return asyncio.run(run_user_command(settings, args))
    if args.command == "serve":
        if args.workers > 1:
            return serve_workers(settings, args.host, args.port, args.workers)
        return _serve(settings, args.host, args.port)
    if args.command == "load":
        return asyncio.run(_load(settings, args))
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


async def _load(settings: Settings, args: argparse.Namespace) -> int:
    from .db import create_sessionmaker, open_database
    from .errors import DomainError
    from .movies.importing.importer import ImportOptions, import_catalog
    from .tenancy import is_valid_tenant_name
    from .uow import UnitOfWork

    if not is_valid_tenant_name(args.tenant):
        print(f"error: {args.tenant!r} is not a valid tenant name (a-z, 0-9, _ and -, at most 64)", file=sys.stderr)
        return 2
    options = ImportOptions(
        mode=args.mode,
        dry_run=args.dry_run,
        on_error=args.on_error,
        allow_shrink=args.allow_shrink,
        encoding=args.encoding,
    )
    try:
        source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    progress = None if args.quiet or not sys.stderr.isatty() else ProgressLine(_size(source))
    with source:
        async with open_database(settings) as engine:
            try:
                report = await import_catalog(
                    UnitOfWork(create_sessionmaker(engine, settings)),
                    args.tenant,
                    source,
                    options,
                    source_name="stdin" if args.file == "-" else args.file,
                    progress=progress,
                )
            except DomainError as exc:
                if progress:
                    progress.finish()
                print(json.dumps(exc.body(), ensure_ascii=False, indent=2), file=sys.stderr)
                return 1
    if progress:
        progress.finish()
    print(report.model_dump_json(indent=2))
    return 0


async def _token(settings: Settings, args: argparse.Namespace) -> int:
    from .db import create_sessionmaker, open_database
    from .errors import TokenNotFound
    from .tenancy import is_valid_tenant_name
    from .tokens import service
    from .uow import UnitOfWork

    if args.tenant is not None and not is_valid_tenant_name(args.tenant):
        print(f"error: {args.tenant!r} is not a valid tenant name (a-z, 0-9, _ and -, at most 64)", file=sys.stderr)
        return 2
    async with open_database(settings) as engine:
        uow = UnitOfWork(create_sessionmaker(engine, settings))
        if args.token_command == "create":
            new = await service.create_token(uow, args.tenant, args.note)
            print(
                f"token {new.id} for tenant {new.tenant!r} (shown once; revoke: moviemanager token revoke "
                f"--tenant {new.tenant} {new.id}):",
                file=sys.stderr,
            )
            print(new.token)
        elif args.token_command == "list":
            for row in await service.list_tokens(uow, args.tenant):
                print(f"{row.tenant}\t{row.id}\t{row.created_at:%Y-%m-%d %H:%M:%S%z}\t{row.note or ''}")
        else:
            try:
                await service.revoke_token(uow, args.tenant, args.id)
            except TokenNotFound as exc:
                print(f"error: {exc.detail}", file=sys.stderr)
                return 1
            print(f"revoked token {args.id} of tenant {args.tenant!r}", file=sys.stderr)
    return 0


def _size(source: BinaryIO) -> int | None:
    try:
        return os.fstat(source.fileno()).st_size
    except (OSError, ValueError):
        return None


async def _export(settings: Settings, tenant: str, output: Path | None) -> int:
    from .db import create_sessionmaker, open_database
    from .errors import TenantNotFound
    from .movies.exporting.service import export_catalog
    from .movies.reading.filters import MovieFilters
    from .uow import UnitOfWork

    async with open_database(settings) as engine:
        chunks = export_catalog(UnitOfWork(create_sessionmaker(engine, settings)), tenant, MovieFilters())
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
