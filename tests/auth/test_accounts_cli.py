"""`moviemanager user …` against a committed database of this module's own, and what the users
it makes may then write through the API."""

import asyncio
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from moviemanager import cli

from ..conftest import committing_client
from .test_tokens import bearer, upload

PASSWORD = "a long enough password"


@pytest.fixture
async def api(own_settings, own_engine, monkeypatch) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the module's database (sending no token), and an environment pointing the
    command at that database."""
    monkeypatch.setenv("DATABASE_URL", own_settings.database_url)
    monkeypatch.setenv("MOVIEMANAGER_MIGRATE_ON_START", "false")
    async with committing_client(own_settings, own_engine) as client:
        del client.headers["Authorization"]
        yield client


async def user(*argv: str) -> int:
    """The command, in a thread of its own: it runs its own event loop, as from a shell."""
    return await asyncio.to_thread(cli.main, ["user", *argv])


@pytest.fixture
def stdin(monkeypatch):
    def feed(text: str) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO(text))

    return feed


async def log_in(api, username: str, password: str = PASSWORD) -> httpx.Response:
    return await api.post("/auth/login", json={"username": username, "password": password})


async def token_of(api, username: str) -> str:
    response = await log_in(api, username)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def test_create_with_password_stdin_grant_and_revoke(api, stdin, capsys):
    stdin(PASSWORD + "\n")
    assert await user("create", "cli-ann", "--email", "ann@example.org", "--tenant", "cli-a", "--password-stdin") == 0
    assert capsys.readouterr().err == "created user 'cli-ann' (tenants cli-a)\n"
    token = await token_of(api, "cli-ann")
    assert (await upload(api, "cli-a", [1], bearer(token))).status_code == 200
    assert (await upload(api, "cli-b", [1], bearer(token))).status_code == 403

    assert await user("grant", "cli-ann", "--tenant", "cli-b") == 0
    assert (await upload(api, "cli-b", [1], bearer(token))).status_code == 200
    assert await user("grant", "cli-ann", "--tenant", "cli-b") == 0
    assert "(already could)" in capsys.readouterr().err

    assert await user("revoke", "cli-ann", "--tenant", "cli-a") == 0
    assert (await upload(api, "cli-a", [1], bearer(token))).status_code == 403
    assert await user("revoke", "cli-ann", "--tenant", "cli-a") == 1
    assert capsys.readouterr().err.endswith("error: User 'cli-ann' has no grant for tenant 'cli-a'\n")
    me = (await api.get("/auth/me", headers=bearer(token))).json()
    assert me["tenants"] == ["cli-b"] and me["is_admin"] is False


async def test_an_admin_asked_for_its_password_twice(api, monkeypatch, capsys):
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert await user("create", "cli-boss", "--email", "boss@example.org", "--admin") == 0
    token = await token_of(api, "cli-boss")
    assert (await upload(api, "cli-anything", [1], bearer(token))).status_code == 200
    assert (await api.post("/categories", json={"name": "Cli Noir"}, headers=bearer(token))).status_code == 201
    assert PASSWORD not in capsys.readouterr().err


async def test_list_shows_users_and_rights_never_passwords(api, stdin, capsys):
    stdin(PASSWORD + "\n")
    assert (
        await user(
            "create", "cli-list", "--email", "l@example.org", "--tenant", "b", "--tenant", "a", "--password-stdin"
        )
        == 0
    )
    capsys.readouterr()
    assert await user("list") == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("cli-list\t"))
    assert line.split("\t")[:4] == ["cli-list", "l@example.org", "active", "tenants a, b"]
    assert "argon2" not in out and PASSWORD not in out


async def test_disable_stops_the_tokens_and_the_logins(api, stdin, capsys):
    stdin(PASSWORD + "\n")
    assert await user("create", "cli-dis", "--email", "d@example.org", "--tenant", "cli-d", "--password-stdin") == 0
    token = await token_of(api, "cli-dis")
    assert await user("disable", "CLI-DIS") == 0
    assert (await upload(api, "cli-d", [1], bearer(token))).status_code == 401
    assert (await log_in(api, "cli-dis")).status_code == 401
    assert await user("enable", "cli-dis") == 0
    assert (await log_in(api, "cli-dis")).status_code == 200


@pytest.mark.parametrize(
    ("argv", "stdin_text", "error"),
    [
        (["create", "x", "--email", "x@example.org", "--admin"], PASSWORD, "error: username: String should match"),
        (["create", "xavier", "--email", "nope", "--admin"], PASSWORD, "error: email: value is not a valid email"),
        (
            ["create", "xavier", "--email", "x@example.org", "--admin"],
            "short",
            "error: password: String should have at least 8",
        ),
        (["create", "xavier", "--email", "x@example.org", "--admin"], "", "error: the password is empty"),
        (
            ["create", "xavier", "--email", "x@example.org", "--tenant", "Bad Name"],
            PASSWORD,
            "error: 'Bad Name' is not a valid tenant name",
        ),
        (["grant", "xavier", "--tenant", "NO"], None, "error: 'NO' is not a valid tenant name"),
    ],
)
async def test_bad_input_is_refused_before_the_database_with_exit_code_2(api, stdin, capsys, argv, stdin_text, error):
    if stdin_text is not None:
        stdin(stdin_text + "\n")
        argv = [*argv, "--password-stdin"]
    assert await user(*argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(error)
    assert stdin_text is None or "short" not in err


async def test_unknown_users_and_taken_names_exit_with_1(api, stdin, capsys):
    for argv in (["disable", "nobody"], ["grant", "nobody", "--tenant", "a"], ["revoke", "nobody", "--tenant", "a"]):
        assert await user(*argv) == 1
        assert capsys.readouterr().err == "error: No user 'nobody'\n"
    stdin(PASSWORD + "\n")
    assert await user("create", "cli-twice", "--email", "t@example.org", "--admin", "--password-stdin") == 0
    stdin(PASSWORD + "\n")
    assert await user("create", "CLI-Twice", "--email", "t@example.org", "--admin", "--password-stdin") == 1
    assert capsys.readouterr().err.endswith("error: Username 'CLI-Twice' is taken\n")


async def test_differing_passwords_are_refused(api, monkeypatch, capsys):
    answers = iter([PASSWORD, PASSWORD + "?"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert await user("create", "cli-typo", "--email", "t@example.org", "--admin") == 2
    assert capsys.readouterr().err == "error: the passwords differ\n"
