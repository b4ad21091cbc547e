"""Schemathesis against the app's own OpenAPI schema: every operation, every built-in check,
positive and negative examples, a bounded number of each so the suite stays fast.

The app runs in this process under uvicorn (in a thread with its own event loop), on a database
of this module's own, so the checks that re-send a request (e.g. without the token) reach it too.
"""

import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import URL

from moviemanager.app import create_app
from moviemanager.config import Settings

from .conftest import ADMIN, migrated_database
from .test_serve import free_port

EXAMPLES_PER_OPERATION = 20


@pytest.fixture(scope="module")
async def fuzz_database(server_url: URL) -> AsyncIterator[URL]:
    async with migrated_database(server_url) as url:
        yield url


@pytest.fixture(scope="module")
def live_server(fuzz_database: URL, settings: Settings) -> Iterator[str]:
    own = settings.model_copy(
        update={"database_url": fuzz_database.render_as_string(hide_password=False), "load_defaults": True}
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(own), port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


# What a schema-valid request may still get, beyond schemathesis' defaults, because OpenAPI cannot
# say it: 400 when q and search differ; and for
# /reload 422 when the uploaded bytes are not a valid catalog CSV (or would empty the tenant); for
# category administration 422 when parent_id names no category.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
        "operations": [
            {
                "include-path": "/reload",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400", "422"]}},
            },
            {
                "include-path-regex": "^/categories",
                "include-method-regex": "^(POST|PATCH)$",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400", "422"]}},
            },
        ],
    }
)
# The schema as the app builds it, which needs no database: the cases exist at collection time.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(admin_token="unused-placeholder-token")).openapi(), config=CONFIG
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_honours_its_schema(case, live_server):
    case.call_and_validate(base_url=live_server, headers=ADMIN)


def test_the_fuzzed_server_still_serves(live_server: str):
    assert httpx.get(f"{live_server}/readyz").status_code == 200
