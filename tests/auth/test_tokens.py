"""Writes need a bearer token: the admin's, or one of the tenant's; reads stay public."""

import asyncio
import hashlib
import stat

import httpx
import pytest
from sqlalchemy import text

from moviemanager import cli
from moviemanager.app import create_app, serving
from moviemanager.auth import AdminDep, Writer, admin_token
from moviemanager.config import Settings
from moviemanager.db import app_url, create_engine
from moviemanager.tokens.service import create_token, revoke_token

from ..conftest import ADMIN, migrated_database
from ..factories import catalog_csv, movie

UNAUTHENTICATED = {"detail": "Writes need a valid token: send 'Authorization: Bearer <token>'"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def upload(client, tenant: str, ids: list[int], headers: dict[str, str] | None = None) -> httpx.Response:
    files = {"file": ("c.csv", catalog_csv([movie(i) for i in ids]), "text/csv")}
    return await client.post("/reload", params={"tenant": tenant}, files=files, headers=headers)


async def ids(client, tenant: str) -> list[str]:
    return [m["tmdb_id"] for m in (await client.get("/movies", params={"tenant": tenant})).json()]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("wrong"),
        bearer("test-admin-token-012345678"),  # one character short of the admin token
        bearer("mmt.alpha.not-a-real-secret"),
        {"Authorization": "Basic dGVzdDp0ZXN0"},
        {"Authorization": "Bearer"},
    ],
    ids=["none", "wrong", "admin-prefix", "forged-tenant-token", "basic", "empty-bearer"],
)
async def test_missing_or_wrong_tokens_get_one_401(bare, headers):
    response = await upload(bare, "alpha", [1], headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == UNAUTHENTICATED
    assert (await bare.get("/tenants")).json() == []  # nothing was created


async def test_reads_need_no_token(bare):
    await upload(bare, "alpha", [1, 2], ADMIN)
    assert await ids(bare, "alpha") == ["1", "2"]
    assert (await bare.get("/movies/1", params={"tenant": "alpha"})).status_code == 200
    assert (await bare.get("/movies.csv", params={"tenant": "alpha"})).status_code == 200
    assert (await bare.get("/tenants")).status_code == 200


async def test_a_tenant_token_writes_its_tenant_only(bare, uow):
    await upload(bare, "beta", [7], ADMIN)
    token = (await create_token(uow, "alpha", note="ci")).token
    assert (await upload(bare, "alpha", [1], bearer(token))).status_code == 200

    refused = await upload(bare, "beta", [1, 2, 3], bearer(token))
    assert refused.status_code == 403
    assert refused.json() == {"detail": "This token may write tenant 'alpha' only, not 'beta'"}
    assert await ids(bare, "beta") == ["7"]
    assert token not in refused.text


async def test_a_revoked_token_stops_working(bare, uow):
    new = await create_token(uow, "alpha")
    assert (await upload(bare, "alpha", [1], bearer(new.token))).status_code == 200
    await revoke_token(uow, "alpha", new.id)
    assert (await upload(bare, "alpha", [2], bearer(new.token))).status_code == 401
    assert await ids(bare, "alpha") == ["1"]


async def test_tokens_are_stored_as_sha256_only(uow, connection):
    new = await create_token(uow, "alpha")
    rows = (await connection.execute(text("SELECT * FROM api_tokens WHERE tenant = 'alpha'"))).mappings().all()
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(new.token.encode()).digest()
    assert new.token not in repr(dict(rows[0]))
    assert new.token.startswith("mmt.alpha.") and len(new.token) > 50


async def test_the_admin_only_dependency_refuses_tenant_tokens(app, bare, uow):
    @app.post("/test-admin-only")
    async def admin_only(writer: AdminDep) -> dict:
        return {"admin": writer == Writer(tenant=None)}

    token = (await create_token(uow, "alpha")).token
    assert (await bare.post("/test-admin-only", headers=ADMIN)).json() == {"admin": True}
    assert (await bare.post("/test-admin-only", headers=bearer(token))).status_code == 403
    refused = await bare.post("/test-admin-only", headers=bearer("nope"))
    assert (refused.status_code, refused.json()) == (401, UNAUTHENTICATED)


async def test_the_openapi_schema_declares_the_bearer_scheme_on_writes_only(bare):
    schema = (await bare.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert schema["paths"]["/reload"]["post"]["security"] == [{"HTTPBearer": []}]
    assert {"401", "403"} <= set(schema["paths"]["/reload"]["post"]["responses"])
    assert "security" not in schema["paths"]["/movies"]["get"]


def test_no_admin_token_set_generates_a_private_one_once(tmp_path, capsys):
    settings = Settings(data_dir=tmp_path / "data", admin_token=None)
    token = admin_token(settings)
    path = tmp_path / "data" / "admin_token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == token and len(token) >= 40
    printed = capsys.readouterr().err
    assert token in printed and "Authorization: Bearer" in printed

    assert admin_token(settings) == token  # the next start reads it, and says nothing of it
    assert token not in capsys.readouterr().err
    assert [p.name for p in path.parent.iterdir()] == ["admin_token"]


def test_moviemanager_admin_token_wins_and_writes_no_file(tmp_path):
    settings = Settings(data_dir=tmp_path, admin_token="chosen-by-the-operator-1234")
    assert admin_token(settings) == "chosen-by-the-operator-1234"
    assert list(tmp_path.iterdir()) == []


def test_an_admin_token_shorter_than_16_characters_is_refused():
    with pytest.raises(ValueError, match="admin_token"):
        Settings(admin_token="short")


async def test_token_commands_create_list_revoke(server_url, settings, monkeypatch, capsys):
    async with migrated_database(server_url) as url:
        database_url = url.render_as_string(hide_password=False)
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.setenv("MOVIEMANAGER_MIGRATE_ON_START", "false")
        engine = create_engine(app_url(database_url, settings), settings)  # as the service: the app role
        app = create_app(settings.model_copy(update={"database_url": database_url}))
        try:
            async with (
                serving(app, engine),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
            ):
                await _token_commands(client, capsys)
        finally:
            await engine.dispose()


async def _token_commands(client: httpx.AsyncClient, capsys) -> None:
    assert await asyncio.to_thread(cli.main, ["token", "create", "--tenant", "gamma", "--note", "uploader"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    token_id = err.split()[1]
    assert token.startswith("mmt.gamma.") and "revoke" in err
    assert (await upload(client, "gamma", [1], bearer(token))).status_code == 200

    assert await asyncio.to_thread(cli.main, ["token", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith(f"gamma\t{token_id}\t") and "uploader" in listed and token not in listed

    assert await asyncio.to_thread(cli.main, ["token", "revoke", "--tenant", "gamma", token_id]) == 0
    assert (await upload(client, "gamma", [2], bearer(token))).status_code == 401
    assert await asyncio.to_thread(cli.main, ["token", "revoke", "--tenant", "gamma", token_id]) == 1
    assert "has no token" in capsys.readouterr().err
    assert await asyncio.to_thread(cli.main, ["token", "create", "--tenant", "Not Valid"]) == 2
    with pytest.raises(SystemExit):
        cli.main(["token", "create"])  # --tenant is required


async def test_a_browser_may_send_the_token_cross_origin(bare):
    preflight = await bare.options(
        "/reload",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()


def test_an_unwritable_data_directory_is_a_clear_start_up_error(tmp_path):
    (tmp_path / "data").write_text("a file where the directory should be")
    with pytest.raises(RuntimeError, match="set MOVIEMANAGER_ADMIN_TOKEN"):
        admin_token(Settings(data_dir=tmp_path / "data", admin_token=None))


async def test_category_administration_needs_the_admin_token(bare, uow):
    token = (await create_token(uow, "alpha")).token
    change = {"name": "Renamed by a stranger"}
    for headers, status in [({}, 401), (bearer("nope"), 401), (bearer(token), 403)]:
        assert (await bare.post("/categories", json=change, headers=headers)).status_code == status
        assert (await bare.patch("/categories/1", json=change, headers=headers)).status_code == status
        assert (await bare.delete("/categories/1", headers=headers)).status_code == status
    assert (await bare.get("/categories", params={"max_level": 0})).json()[0]["name"] == "Action"
    created = await bare.post("/categories", json={"name": "Added by the admin"}, headers=ADMIN)
    assert created.status_code == 201
