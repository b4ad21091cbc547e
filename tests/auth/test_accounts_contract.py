"""The original front end's sign-up and sign-in, replayed with its exact bodies: the statuses,
shapes and JSON types it reads. Extra fields may follow the ones it knows."""

from datetime import datetime

import pytest

ORIGIN = "http://localhost:3000"
JSON = {"Content-Type": "application/json", "Origin": ORIGIN}
REGISTER = b'{"username":"frontend","email":"frontend@example.org","password":"frontend-pass-1"}'
LOGIN = b'{"username":"frontend","password":"frontend-pass-1"}'
USER_FIELDS = {"id": int, "username": str, "email": str, "is_active": bool, "created_at": str}


def assert_user(body: dict) -> None:
    assert list(body)[: len(USER_FIELDS)] == list(USER_FIELDS)
    for field, kind in USER_FIELDS.items():
        assert type(body[field]) is kind, field
    assert body["username"] == "frontend" and body["email"] == "frontend@example.org" and body["is_active"] is True
    datetime.fromisoformat(body["created_at"])


@pytest.fixture
def registration_open(app):
    app.state.settings = app.state.settings.model_copy(update={"allow_registration": True})


async def test_register_login_me_as_the_front_end_does(bare, registration_open):
    for path in ("/auth/register", "/auth/login", "/auth/me"):  # the browser's preflights
        preflight = await bare.options(
            path,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET" if path == "/auth/me" else "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200, path

    registered = await bare.post("/auth/register", content=REGISTER, headers=JSON)
    assert registered.status_code == 201
    assert registered.headers["content-type"] == "application/json"
    assert registered.headers["access-control-allow-origin"] == "*"
    assert_user(registered.json())

    login = await bare.post("/auth/login", content=LOGIN, headers=JSON)
    assert login.status_code == 200
    body = login.json()
    assert type(body["access_token"]) is str and body["token_type"] == "bearer"

    me = await bare.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}", "Origin": ORIGIN})
    assert me.status_code == 200
    assert_user(me.json())
    assert me.json()["id"] == registered.json()["id"]


async def test_the_errors_the_front_end_shows_carry_a_detail(bare, registration_open):
    assert (await bare.post("/auth/register", content=REGISTER, headers=JSON)).status_code == 201
    again = await bare.post("/auth/register", content=REGISTER, headers=JSON)
    wrong = await bare.post("/auth/login", content=LOGIN.replace(b"pass-1", b"pass-2"), headers=JSON)
    anonymous = await bare.get("/auth/me", headers={"Origin": ORIGIN})
    assert [again.status_code, wrong.status_code, anonymous.status_code] == [409, 401, 401]
    for response in (again, wrong, anonymous):
        assert type(response.json()["detail"]) is str
        assert response.headers["access-control-allow-origin"] == "*"
    assert "POST /auth/login" in anonymous.json()["detail"]
