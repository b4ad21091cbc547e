"""The `moviemanager` command: a thin door to the same app and services as the HTTP API."""

import argparse
import asyncio
import sys

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

    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "serve":
        return _serve(settings, args.host, args.port)
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


if __name__ == "__main__":
    sys.exit(main())
