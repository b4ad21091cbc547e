"""User accounts over HTTP: login tokens, what they may write, logout, expiry, disabled users,
registration and the login throttle."""

import hashlib
import logging
from datetime import timedelta

import httpx
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from sqlalchemy import func, select

from moviemanager.accounts import passwords, service
from moviemanager.accounts.schemas import UserCreate
from moviemanager.models import LoginFailure, LoginToken, User

from .test_tokens import UNAUTHENTICATED, bearer, upload

PASSWORD = "correct horse battery"
WRONG = {"detail": "Incorrect username or password"}


@pytest.fixture
async def ann(uow) -> User:
    """A user who may write tenant alpha."""
    return await service.create_user(
        uow, UserCreate(username="Ann", email="ann@example.org", password=PASSWORD), tenants=["alpha"]
    )


@pytest.fixture
async def boss(uow) -> User:
    new = UserCreate(username="boss", email="boss@example.org", password=PASSWORD)
    return await service.create_user(uow, new, is_admin=True)


def from_address(app, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def log_in(client, username: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/auth/login", json={"username": username, "password": password})


async def token_of(client, username: str) -> str:
    response = await log_in(client, username)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def test_a_login_token_writes_the_granted_tenant_only(bare, ann):
    response = await log_in(bare, "ann")  # any case of the name
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 12 * 3600
    assert body["access_token"].startswith("mml.")
    token = body["access_token"]

    assert (await upload(bare, "alpha", [1], bearer(token))).status_code == 200
    refused = await upload(bare, "beta", [1], bearer(token))
    assert refused.status_code == 403
    assert refused.json() == {"detail": "User 'Ann' may not write tenant 'beta'"}
    admin_only = await bare.post("/categories", json={"name": "Noir"}, headers=bearer(token))
    assert admin_only.status_code == 403 and "needs an admin" in admin_only.json()["detail"]


async def test_an_admin_user_writes_every_tenant_and_the_global_data(bare, boss):
    token = await token_of(bare, "boss")
    assert (await upload(bare, "beta", [1], bearer(token))).status_code == 200
    created = await bare.post("/categories", json={"name": "Noir"}, headers=bearer(token))
    assert created.status_code == 201


async def test_wrong_password_and_unknown_user_get_one_401_after_the_same_work(bare, ann, monkeypatch):
    checked = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash, password):  # noqa: A002
            checked.append(hash)
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "hasher", CountingHasher.from_parameters(CHEAPEST))
    wrong = await log_in(bare, "ann", "not the password")
    unknown = await log_in(bare, "nobody", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json() == WRONG
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert len(checked) == 2  # an Argon2 verification for the unknown user too (a dummy hash)
    assert checked[0] == ann.password_hash and checked[1] != ann.password_hash


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "ann"},
        {"username": "", "password": "x"},
        {"username": 1},
        {"username": "a\x00", "password": "x"},
    ],
)
async def test_a_malformed_login_is_a_422_naming_the_field(bare, body):
    response = await bare.post("/auth/login", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


async def test_an_expired_token_stops_working(bare, ann, uow):
    token = "mml.expired-token-for-the-test"
    async with uow:
        await uow.logins.add_token(hashlib.sha256(token.encode()).digest(), ann.id, -timedelta(seconds=1))
        await uow.commit()
    assert (await upload(bare, "alpha", [1], bearer(token))).json() == UNAUTHENTICATED
    assert (await bare.get("/auth/me", headers=bearer(token))).status_code == 401


async def test_logout_revokes_the_presented_token_only(bare, ann):
    first, second = await token_of(bare, "ann"), await token_of(bare, "ann")
    response = await bare.post("/auth/logout", headers=bearer(first))
    assert response.status_code == 204 and response.content == b""
    assert (await upload(bare, "alpha", [1], bearer(first))).status_code == 401
    assert (await bare.get("/auth/me", headers=bearer(first))).status_code == 401
    assert (await bare.post("/auth/logout", headers=bearer(first))).status_code == 401
    assert (await upload(bare, "alpha", [1], bearer(second))).status_code == 200


async def test_a_disabled_user_can_neither_use_its_tokens_nor_log_in(bare, ann, uow):
    token = await token_of(bare, "ann")
    await service.set_active(uow, "ann", False)
    assert (await upload(bare, "alpha", [1], bearer(token))).status_code == 401
    assert (await log_in(bare, "ann")).json() == WRONG
    await service.set_active(uow, "ann", True)
    assert (await upload(bare, "alpha", [1], bearer(token))).status_code == 401  # deleted with the disabling
    assert (await log_in(bare, "ann")).status_code == 200


async def test_me_answers_the_user_with_its_rights(bare, ann):
    response = await bare.get("/auth/me", headers=bearer(await token_of(bare, "ann")))
    assert response.status_code == 200
    body = response.json()
    assert list(body)[:5] == ["id", "username", "email", "is_active", "created_at"]
    assert body | {"created_at": None} == {
        "id": ann.id,
        "username": "Ann",
        "email": "ann@example.org",
        "is_active": True,
        "created_at": None,
        "is_admin": False,
        "tenants": ["alpha"],
    }


@pytest.mark.parametrize("token", ["test-admin-token-0123456789", "mml.unknown", "mmt.alpha.x"])
async def test_me_needs_a_login_token(bare, token):
    response = await bare.get("/auth/me", headers=bearer(token))
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert "POST /auth/login" in response.json()["detail"]


async def test_five_failures_for_one_username_then_429_even_with_the_password(app, ann, uow):
    for number in range(5):
        async with from_address(app, f"10.0.0.{number}") as client:
            assert (await log_in(client, "ANN", "guess")).status_code == 401
    async with from_address(app, "10.0.1.1") as client:
        refused = await log_in(client, "ann")
        assert (await log_in(client, "someone-else")).status_code == 401  # other names from there still try
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(15 * 60)  # the test's transaction keeps one clock
    assert "retry in 900 s" in refused.json()["detail"]
    async with uow:  # the refused attempt is no failure of its own
        assert await uow.session.scalar(select(func.count()).select_from(LoginFailure)) == 6


async def test_five_failures_from_one_address_then_429(app, ann):
    async with from_address(app, "192.0.2.7") as client:
        for number in range(5):
            assert (await log_in(client, f"guess{number}")).status_code == 401
        refused = await log_in(client, "ann")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    async with from_address(app, "192.0.2.8") as client:
        assert (await log_in(client, "ann")).status_code == 200


async def test_a_login_forgets_the_failures_of_its_username(app, ann):
    async with from_address(app, "10.0.0.1") as client:
        for _ in range(4):
            assert (await log_in(client, "ann", "guess")).status_code == 401
        assert (await log_in(client, "ann")).status_code == 200
    async with from_address(app, "10.0.0.2") as client:
        for _ in range(4):
            assert (await log_in(client, "ann", "guess")).status_code == 401
        assert (await log_in(client, "ann")).status_code == 200


async def test_registration_is_off_unless_allowed(bare):
    response = await bare.post(
        "/auth/register", json={"username": "eve", "email": "e@example.org", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "moviemanager user create" in response.json()["detail"]
    assert (await log_in(bare, "eve")).status_code == 401


async def test_a_registered_user_may_write_nothing_until_granted(app, bare, uow):
    app.state.settings = app.state.settings.model_copy(update={"allow_registration": True})
    new = {"username": "Eve", "email": "eve@example.org", "password": PASSWORD}
    response = await bare.post("/auth/register", json=new)
    assert response.status_code == 201
    assert response.json() | {"id": 0, "created_at": ""} == {
        "id": 0,
        "username": "Eve",
        "email": "eve@example.org",
        "is_active": True,
        "created_at": "",
        "is_admin": False,
        "tenants": [],
    }
    taken = await bare.post("/auth/register", json=new | {"username": "eVE"})
    assert taken.status_code == 409 and taken.json() == {"detail": "Username 'eVE' is taken"}

    token = await token_of(bare, "eve")
    assert (await upload(bare, "alpha", [1], bearer(token))).status_code == 403
    await service.grant(uow, "eve", "alpha")
    assert (await upload(bare, "alpha", [1], bearer(token))).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"username": "a"}, "username"),
        ({"username": "ann smith"}, "username"),
        ({"username": "-ann"}, "username"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "eve\x00@example.org"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "x" * 1025}, "password"),
    ],
)
async def test_registration_refuses_bad_input_naming_the_field(app, bare, change, field):
    app.state.settings = app.state.settings.model_copy(update={"allow_registration": True})
    new = {"username": "eve", "email": "eve@example.org", "password": PASSWORD} | change
    response = await bare.post("/auth/register", json=new)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]


async def test_passwords_and_tokens_stay_out_of_responses_logs_and_the_database(app, bare, uow, caplog):
    app.state.settings = app.state.settings.model_copy(update={"allow_registration": True})
    caplog.set_level(logging.DEBUG)
    secret = "a rather secret password"
    registered = await bare.post(
        "/auth/register", json={"username": "zoe", "email": "z@example.org", "password": secret}
    )
    responses = [registered, await log_in(bare, "zoe", secret + "!"), await log_in(bare, "zoe", secret)]
    token = responses[-1].json()["access_token"]
    responses.append(await bare.get("/auth/me", headers=bearer(token)))
    for response in responses:
        assert secret not in response.text and "argon2" not in response.text
    assert secret not in caplog.text and token not in caplog.text
    async with uow:
        stored = (await uow.session.execute(select(User.password_hash, LoginToken.token_hash).join(LoginToken))).one()
    assert stored.password_hash.startswith("$argon2id$") and secret not in stored.password_hash
    assert stored.token_hash == hashlib.sha256(token.encode()).digest()


async def test_a_login_rehashes_a_password_hashed_with_other_parameters(bare, ann, uow, monkeypatch):
    stronger = PasswordHasher(time_cost=CHEAPEST.time_cost + 1, memory_cost=CHEAPEST.memory_cost, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", stronger)
    assert (await log_in(bare, "ann")).status_code == 200
    async with uow:
        rehashed = await uow.session.scalar(select(User.password_hash).where(User.id == ann.id))
    assert rehashed != ann.password_hash and not stronger.check_needs_rehash(rehashed)
    assert (await log_in(bare, "ann")).status_code == 200
