"""The middleware around every request (middleware.py): CORS as Starlette's, on the 413 too; the request log."""

import logging

import httpx
import pytest

from moviemanager.app import create_app
from moviemanager.logs import access_log

from .conftest import ADMIN, TransactionReads
from .factories import catalog_csv, movie

BROWSER = "http://localhost:3000"
EXPOSED = "Link, X-Total-Count, X-Process-Time, ETag, X-Tenant"


@pytest.fixture
async def listed_origin_client(settings, engine, connection, sessions):
    """The app allowing one origin (MOVIEMANAGER_CORS_ORIGINS), with a 1 MB upload cap."""
    app = create_app(settings.model_copy(update={"cors_origins": [BROWSER], "max_upload_mb": 1}))
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.read_pool = TransactionReads(connection)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=ADMIN) as client:
        yield client


async def test_every_response_varies_on_origin(client):
    plain = await client.get("/healthz")
    assert plain.headers["Vary"] == "Origin"
    assert "access-control-allow-origin" not in plain.headers
    listing = await client.get("/movies", headers={"X-Tenant": "nobody", "Origin": BROWSER})
    assert listing.headers.get_list("Vary") == ["Origin"]
    assert listing.headers["Access-Control-Allow-Origin"] == "*"
    assert listing.headers["Access-Control-Expose-Headers"] == EXPOSED
    assert listing.headers["X-Tenant"] == "nobody"  # the tenant it used, even for a 404
    assert "x-tenant" not in plain.headers  # not tenant-scoped


async def test_origin_joins_the_responses_own_vary(client):
    await client.post("/reload", params={"tenant": "t"}, files={"file": ("c.csv", catalog_csv([movie(1)]))})
    for path in ("/movies", "/movies/1"):
        response = await client.get(path, params={"tenant": "t"}, headers={"Origin": BROWSER})
        assert response.status_code == 200
        assert response.headers.get_list("Vary") == ["X-Tenant, Accept-Language, Origin"]


async def test_a_listed_origin_is_mirrored_and_others_are_not_allowed(listed_origin_client):
    allowed = await listed_origin_client.get("/healthz", headers={"Origin": BROWSER})
    assert allowed.headers["Access-Control-Allow-Origin"] == BROWSER
    assert allowed.headers["Vary"] == "Origin"
    other = await listed_origin_client.get("/healthz", headers={"Origin": "http://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers
    assert other.headers["Access-Control-Expose-Headers"] == EXPOSED  # as Starlette's CORSMiddleware does


async def test_a_preflight_gets_starlettes_answer_and_a_timing(listed_origin_client):
    response = await listed_origin_client.options(
        "/movies", headers={"Origin": BROWSER, "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == BROWSER
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, PATCH, DELETE"
    assert "access-control-expose-headers" not in response.headers
    assert float(response.headers["X-Process-Time"]) >= 0
    refused = await listed_origin_client.options(
        "/movies", headers={"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "GET"}
    )
    assert refused.status_code == 400


async def test_a_browser_can_read_the_413(listed_origin_client):
    response = await listed_origin_client.post(
        "/reload", params={"tenant": "capped"}, headers={"Origin": BROWSER, "Content-Length": str(2**21)}, content=b""
    )
    assert response.status_code == 413
    assert response.headers["Access-Control-Allow-Origin"] == BROWSER
    assert float(response.headers["X-Process-Time"]) >= 0


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def access_lines():
    lines, level = Lines(), access_log.level
    access_log.addHandler(lines)
    access_log.setLevel(logging.INFO)
    yield lines.records
    access_log.removeHandler(lines)
    access_log.setLevel(level)


async def test_each_request_is_logged_once(client, access_lines):
    await client.get("/nowhere", params={"a": "1"})
    [record] = access_lines
    assert record.getMessage() == "GET /nowhere 404"
    fields = record.fields
    assert {key: fields[key] for key in ("method", "path", "query", "status")} == {
        "method": "GET",
        "path": "/nowhere",
        "query": "a=1",
        "status": 404,
    }
    assert fields["duration_ms"] >= 0


async def test_no_line_below_the_log_level(client, access_lines):
    access_log.setLevel(logging.WARNING)
    await client.get("/healthz")
    assert access_lines == []
