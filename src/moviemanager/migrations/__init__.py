"""Running the Alembic migrations from code (server start-up, the CLI, /readyz)."""

import asyncio
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine


def alembic_config(url: str | URL) -> Config:
    config = Config()
    config.set_main_option("script_location", "moviemanager:migrations")
    if isinstance(url, URL):
        url = url.render_as_string(hide_password=False)
    # ConfigParser treats % as interpolation; a password may contain one.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade_to_head(url: str | URL) -> None:
    # Alembic's env.py runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


@cache
def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    return script.get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
        if not exists:
            return None
        return await conn.scalar(text("SELECT version_num FROM alembic_version"))


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Leave the importer's per-tenant partitions of `movies` out of autogenerate's comparison."""
    return not (type_ == "table" and name is not None and name.startswith("movies__"))
