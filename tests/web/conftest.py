"""A live server for the browser tests: the app under uvicorn in a thread, on a database of its own
with the default tenants committed, and Debian's chromium driven by Playwright."""

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import URL

from moviemanager.accounts import service as accounts
from moviemanager.accounts.schemas import UserCreate
from moviemanager.app import create_app
from moviemanager.config import Settings
from moviemanager.db import create_engine, create_sessionmaker
from moviemanager.uow import UnitOfWork

from ..conftest import ADMIN, migrated_database
from ..test_serve import free_port

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).parents[2] / ".artifacts" / "screenshots"
USER, PASSWORD = "webuser", "correct horse battery"


@pytest.fixture(scope="session")
async def live_database(server_url: URL, settings: Settings) -> AsyncIterator[Settings]:
    """Settings for a fresh database with a user who may write the tenant `trending`."""
    async with migrated_database(server_url) as url:
        live = settings.model_copy(
            update={"database_url": url.render_as_string(hide_password=False), "load_defaults": True}
        )
        engine = create_engine(live.database_url, live)
        try:
            new = UserCreate(username=USER, email="web@example.com", password=PASSWORD)
            await accounts.create_user(UnitOfWork(create_sessionmaker(engine, live)), new, tenants=["trending"])
        finally:
            await engine.dispose()
        yield live


@pytest.fixture(scope="session")
def live_server(live_database: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app serving on a free port (its lifespan loads the default tenants); its base URL."""
    settings = live_database.model_copy(update={"data_dir": tmp_path_factory.mktemp("web-data")})
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the live server did not start"
        time.sleep(0.1)
    base = f"http://127.0.0.1:{server.config.port}"
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def browser(live_server: str):
    """Chromium, for one module at a time: Playwright's sync API keeps an event loop running in the
    test thread while it is started, which the asyncio tests of the next module cannot share."""
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM}: install Debian's chromium package (.ci/run does) to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server: str):
    """A fresh page at 1280×800 that reaches the live server only: other hosts (poster images) fail,
    as they do on a machine offline."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", base_url=live_server)
    context.route(
        "**/*", lambda route: route.continue_() if route.request.url.startswith(live_server) else route.abort()
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical findings on the page (the test skips without axe-core)."""
    if not AXE.exists():
        pytest.skip(f"no {AXE}: run `npm ci --prefix tests/web` (.ci/run does) for the accessibility scan")
    page.add_script_tag(content=AXE.read_text())
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in found]


def upload_as_admin(base: str, tenant: str, csv: bytes, **params: str) -> httpx.Response:
    files = {"file": ("c.csv", csv, "text/csv")}
    return httpx.post(f"{base}/reload", params={"tenant": tenant, **params}, files=files, headers=ADMIN, timeout=60)


def movies_of(base: str, tenant: str) -> list[dict]:
    return json.loads(httpx.get(f"{base}/movies", params={"tenant": tenant, "limit": 1000}).text)
