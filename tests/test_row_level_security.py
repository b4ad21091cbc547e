"""Isolation enforced by PostgreSQL: the app role sees and writes only its transaction's tenant."""

import asyncio
import uuid

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine

from moviemanager.app import create_app, serving
from moviemanager.db import (
    app_url,
    async_url,
    create_sessionmaker,
    open_database,
    set_app_role_password,
    set_local_tenant,
)
from moviemanager.migrations.tenant_isolation import APP_ROLE
from moviemanager.uow import UnitOfWork

from .conftest import ADMIN
from .factories import catalog_csv, movie
from .movies.importing.test_reload_atomicity import remove_tenant


async def upload(client, tenant: str, ids) -> None:
    rows = catalog_csv([movie(i, Movie_Name=f"{tenant} {i}") for i in ids])
    response = await client.post("/reload", params={"tenant": tenant}, files={"file": ("c.csv", rows)})
    assert response.status_code == 200, response.text


@pytest.fixture
async def two_tenants(client) -> None:
    await upload(client, "alpha", range(1, 4))
    await upload(client, "beta", range(1, 6))


async def scalar(uow: UnitOfWork, sql: str):
    return await uow.session.scalar(text(sql))


async def partition_of(sessions, tenant: str) -> str:
    async with UnitOfWork(sessions).for_tenant(tenant) as uow:
        return await uow.bulk_movies(tenant).current_partition()


async def test_an_unfiltered_count_sees_only_the_units_tenant(two_tenants, uow):
    async with uow.for_tenant("alpha"):
        assert await scalar(uow, "SELECT count(*) FROM movies") == 3
        assert await scalar(uow, "SELECT count(DISTINCT tenant) FROM movies") == 1


async def test_without_a_tenant_no_row_is_visible_and_nothing_fails(two_tenants, uow):
    async with uow:
        assert await scalar(uow, "SELECT current_user") == APP_ROLE
        assert await scalar(uow, "SELECT count(*) FROM movies") == 0


async def test_a_partition_named_directly_shows_no_foreign_row(two_tenants, uow, sessions):
    beta = await partition_of(sessions, "beta")
    async with uow.for_tenant("alpha"):
        assert await scalar(uow, f'SELECT count(*) FROM "{beta}"') == 0
        with pytest.raises(DBAPIError, match="row-level security"):
            async with uow.session.begin_nested():
                await uow.session.execute(text(f"""INSERT INTO "{beta}" VALUES ('beta', 99, 0, '{{}}')"""))


async def test_rows_of_another_tenant_cannot_be_written(two_tenants, uow):
    async with uow.for_tenant("alpha"):
        with pytest.raises(DBAPIError, match="row-level security"):
            async with uow.session.begin_nested():
                await uow.session.execute(text("INSERT INTO movies VALUES ('beta', 99, 0, '{}')"))
        for statement in (
            "UPDATE movies SET checksum = 1 WHERE tenant = 'beta'",
            "DELETE FROM movies WHERE tenant = 'beta'",
        ):
            assert (await uow.session.execute(text(statement))).rowcount == 0


async def test_the_owner_functions_refuse_any_other_tenant(two_tenants, uow, sessions):
    beta = await partition_of(sessions, "beta")
    alpha = await partition_of(sessions, "alpha")
    calls = [
        "SELECT partition_create_table('movies', 'beta', false)",
        "SELECT partition_create_table('tenants', 'alpha', false)",  # not partitioned by tenant
        "SELECT partition_create_table('movie_categories', 'alpha', false)",  # no longer a table (0011)
        f"SELECT partition_analyze('movies', 'beta', '{beta}')",
        f"SELECT partition_add_primary_key('movies', 'beta', '{beta}')",
        f"SELECT partitions_swap('beta', '{beta}', '{beta}', '1s', '1s')",
        f"SELECT partition_add_indexes('movies', 'alpha', '{beta}')",  # alpha's tenant, beta's table
        f"SELECT partition_add_indexes('movies', 'alpha', '{alpha}')",  # attached already
    ]
    async with uow.for_tenant("alpha"):
        for call in calls:
            with pytest.raises(
                ProgrammingError, match="not the tenant of this transaction|is not a new|not partitioned by tenant"
            ):
                async with uow.session.begin_nested():
                    await uow.session.execute(text(call))


async def test_counts_are_isolated_too(two_tenants, uow):
    async with uow.for_tenant("alpha"):
        assert await scalar(uow, "SELECT count(DISTINCT tenant) FROM category_counts") == 1
        assert await scalar(uow, "SELECT count(*) FROM category_counts WHERE tenant = 'beta'") == 0
        with pytest.raises(DBAPIError, match="row-level security"):
            async with uow.session.begin_nested():
                await uow.session.execute(text("INSERT INTO category_counts VALUES ('beta', 1, 1, 1)"))
    async with uow:
        assert await scalar(uow, "SELECT count(*) FROM category_counts") == 0


async def test_the_app_role_cannot_turn_the_policies_off(two_tenants, uow):
    attempts = [
        "SET LOCAL row_security = off; SELECT count(*) FROM movies",
        "ALTER TABLE movies DISABLE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON movies",
        "SET LOCAL ROLE postgres",
    ]
    async with uow.for_tenant("alpha"):
        for attempt in attempts:
            with pytest.raises(DBAPIError):
                async with uow.session.begin_nested():
                    for statement in attempt.split("; "):
                        await uow.session.execute(text(statement))


async def test_every_tenant_table_forces_its_policy_and_the_app_role_can_bypass_none(two_tenants, uow):
    async with uow:
        unprotected = await uow.session.scalars(
            text(
                """
                SELECT c.relname FROM pg_class c
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant'
                LEFT JOIN pg_policy p ON p.polrelid = c.oid
                WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
                  -- shared by every tenant on purpose (migrations 0006 and 0012)
                  AND c.relname NOT IN ('api_tokens', 'user_tenants')
                  AND NOT coalesce(c.relrowsecurity AND c.relforcerowsecurity
                                   AND pg_get_expr(p.polqual, c.oid) LIKE '%current_setting(''app.tenant''%'
                                   AND pg_get_expr(p.polwithcheck, c.oid) = pg_get_expr(p.polqual, c.oid), false)
                """
            )
        )
        assert list(unprotected) == []
        tables = await scalar(
            uow,
            "SELECT count(*) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant'"
            " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')",
        )
        assert tables >= 5  # movies and two partitions, category_counts, api_tokens
        role = (await uow.session.execute(text(f"SELECT * FROM pg_roles WHERE rolname = '{APP_ROLE}'"))).one()
        assert (role.rolsuper, role.rolbypassrls, role.rolcreaterole, role.rolcreatedb) == (False,) * 4
        owned = await scalar(
            uow,
            "SELECT (SELECT count(*) FROM pg_class WHERE relowner = current_user::regrole)"
            " + (SELECT count(*) FROM pg_proc WHERE proowner = current_user::regrole)"
            " + (SELECT count(*) FROM pg_namespace WHERE nspowner = current_user::regrole)",
        )
        assert owned == 0


@pytest.fixture
async def pool_of_one(settings, owner_engine):
    """The app over one pooled connection (as the app role), with two committed tenants."""
    engine = create_async_engine(app_url(settings.database_url, settings), pool_size=1, max_overflow=0)
    app = create_app(settings.model_copy(update={"db_pool_size": 1}))  # and a read pool of one
    tenants = [f"pool_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    try:
        transport = httpx.ASGITransport(app=app)
        async with (
            serving(app, engine),
            httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=ADMIN) as client,
        ):
            for tenant, count in zip(tenants, (30, 20), strict=True):
                await upload(client, tenant, range(1, count + 1))
            yield client, engine, tenants
    finally:
        await engine.dispose()
        for tenant in tenants:
            await remove_tenant(owner_engine, tenant)


async def test_a_thousand_requests_alternating_tenants_over_one_connection_never_cross(pool_of_one):
    client, engine, tenants = pool_of_one

    async def check(number: int) -> None:
        tenant = tenants[number % 2]
        if number % 4 < 2:
            response = await client.get("/movies", params={"tenant": tenant, "limit": 1000})
            names = [m["movie_name"] for m in response.json()]
            assert len(names) == (30 if tenant == tenants[0] else 20)
        else:
            response = await client.get("/movies/7", headers={"X-Tenant": tenant})
            names = [response.json()["movie_name"]]
        assert response.status_code == 200
        assert all(name.startswith(f"{tenant} ") for name in names), (tenant, names)

    for batch in range(0, 1000, 10):
        await asyncio.gather(*(check(number) for number in range(batch, batch + 10)))
    async with engine.connect() as connection:  # the same pooled connection, after them all
        leftover = await connection.execute(text("SELECT current_setting('app.tenant', true), count(*) FROM movies"))
        assert tuple(leftover.one()) in (("", 0), (None, 0))


async def test_a_configured_password_is_set_on_the_app_role_and_put_in_its_url(settings, owner_engine):
    configured = settings.model_copy(update={"app_role_password": SecretStr("s3cr%t'pw")})
    assert app_url(settings.database_url, configured).password == "s3cr%t'pw"
    owner_url = async_url(settings.database_url)
    try:
        await set_app_role_password(owner_url, "s3cr%t'pw")
        async with owner_engine.connect() as connection:
            stored = await connection.scalar(text(f"SELECT rolpassword FROM pg_authid WHERE rolname = '{APP_ROLE}'"))
        assert stored is not None and stored.startswith(("SCRAM-SHA-256$", "md5"))
    finally:
        async with owner_engine.begin() as connection:  # the role is the server's: leave it as it was
            await connection.execute(text(f"ALTER ROLE {APP_ROLE} PASSWORD NULL"))


async def test_the_service_migrates_as_the_owner_and_serves_as_the_app_role(settings):
    migrating = settings.model_copy(update={"migrate_on_start": True})  # the database is at head: a no-op
    async with open_database(migrating) as engine, engine.connect() as connection:
        roles = await connection.execute(text("SELECT current_user, session_user"))
        assert tuple(roles.one()) == (APP_ROLE, APP_ROLE)


async def test_a_unit_sets_its_tenant_with_set_local_which_ends_with_its_transaction(settings):
    """SET LOCAL, not set_config(): the statement a distributed database passes on (docs/scaling.md)."""
    engine = create_async_engine(app_url(settings.database_url, settings), pool_size=1, max_overflow=0)
    sessions = create_sessionmaker(engine, settings)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    try:
        async with UnitOfWork(sessions).for_tenant("alpha") as uow:
            assert await scalar(uow, "SELECT current_setting('app.tenant')") == "alpha"
        async with UnitOfWork(sessions) as uow:  # the same pooled connection
            assert await scalar(uow, "SELECT current_setting('app.tenant', true)") == ""
    finally:
        await engine.dispose()
    assert "SET LOCAL app.tenant = 'alpha'" in statements
    assert not any("set_config('app.tenant'" in statement for statement in statements)


@pytest.mark.parametrize("name", ["Alpha", "a'; RESET ALL; --", "a b", "-a", "a" * 65])
def test_set_local_takes_tenant_names_only(name):
    with pytest.raises(ValueError):
        set_local_tenant(name)
    assert set_local_tenant(None) == "SET LOCAL app.tenant = ''"
