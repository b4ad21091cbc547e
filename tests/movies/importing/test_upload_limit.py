"""MOVIEMANAGER_MAX_UPLOAD_MB: a bigger upload is refused with 413 as it streams, and nothing changes."""

import httpx
import pytest

from moviemanager.app import create_app

from ...conftest import ADMIN, TransactionReads
from ...factories import catalog_csv, movie


@pytest.fixture
async def small_limit_client(settings, engine, connection, sessions):
    app = create_app(settings.model_copy(update={"max_upload_mb": 1}))
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.read_pool = TransactionReads(connection)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=ADMIN
    ) as client:
        yield client


def big_catalog() -> bytes:
    data = catalog_csv([movie(i, Overview="dài " * 200) for i in range(1, 1500)])
    assert len(data) > 2**20
    return data


async def movie_ids(client) -> list[str]:
    return [m["tmdb_id"] for m in (await client.get("/movies", params={"tenant": "capped"})).json()]


async def test_a_declared_length_over_the_limit_is_413_before_reading(small_limit_client):
    first = catalog_csv([movie(1)])
    await small_limit_client.post("/reload", params={"tenant": "capped"}, files={"file": ("c.csv", first)})
    response = await small_limit_client.post(
        "/reload", params={"tenant": "capped"}, files={"file": ("c.csv", big_catalog(), "text/csv")}
    )
    assert response.status_code == 413
    assert "limit of 1 MB" in response.json()["detail"]
    assert await movie_ids(small_limit_client) == ["1"]


async def test_a_streamed_body_is_stopped_once_it_passes_the_limit(small_limit_client):
    data = big_catalog()
    boundary = "cap"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    sent = 0

    async def chunks():  # no Content-Length: chunked, as a client streaming a file would send it
        nonlocal sent
        for start in range(0, len(body), 64 * 1024):
            sent += 64 * 1024
            yield body[start : start + 64 * 1024]

    response = await small_limit_client.post(
        "/reload",
        params={"tenant": "capped"},
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert "detail" in response.json()
    assert sent < len(body)  # it stopped reading before the end


async def test_uploads_under_the_limit_are_fine(small_limit_client):
    response = await small_limit_client.post(
        "/reload", params={"tenant": "capped"}, files={"file": ("c.csv", catalog_csv([movie(1), movie(2)]))}
    )
    assert response.status_code == 200
