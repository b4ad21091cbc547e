"""GET /metrics: Prometheus' text format, requests by route template, pools, imports, kept answers,
the listener; open, behind its token, or off."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr, ValidationError

from moviemanager.config import Settings

from .conftest import ADMIN_TOKEN
from .factories import catalog_csv
from .live_app import eventually, reload, running

METRICS_TOKEN = "metrics-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) → value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: httpx.AsyncClient, **headers: str) -> dict:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


async def test_requests_imports_pools_and_kept_answers_are_counted(own_settings, own_engine):
    async with running(own_settings, own_engine) as (app, client):
        before = await scrape(client)
        await reload(client, "metered", [1, 2, 3])
        bad = await client.post(
            "/reload", params={"tenant": "metered"}, files={"file": ("c.csv", b"Movie_Name\nno id\n", "text/csv")}
        )
        assert bad.status_code == 422
        shrink = await client.post(
            "/reload", params={"tenant": "metered"}, files={"file": ("c.csv", catalog_csv([]), "text/csv")}
        )
        assert shrink.status_code == 422
        await eventually(lambda: app.state.caches.versions.get("metered") is not None)
        for tmdb_id in (1, 2, 1, 2, 1):  # two bodies read, then kept answers
            assert (await client.get(f"/movies/{tmdb_id}", params={"tenant": "metered"})).status_code == 200
        assert (await client.get("/movies/777", params={"tenant": "metered"})).status_code == 404
        assert (await client.get("/nowhere/metered")).status_code == 404
        after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    one_movie = {"route": "/movies/{tmdb_id}", "method": "GET"}
    assert grew("moviemanager_http_requests_total", **one_movie, status="200") == 5
    assert grew("moviemanager_http_requests_total", **one_movie, status="404") == 1
    assert grew("moviemanager_http_requests_total", route="/reload", method="POST", status="200") == 1
    assert grew("moviemanager_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert grew("moviemanager_http_request_duration_seconds_count", **one_movie) == 6
    assert grew("moviemanager_http_request_duration_seconds_bucket", **one_movie, le="+Inf") == 6
    assert grew("moviemanager_imports_total", outcome="ok") == 1
    assert grew("moviemanager_imports_total", outcome="invalid") == 1
    assert grew("moviemanager_imports_total", outcome="refused") == 1
    assert grew("moviemanager_import_rows_total") == 3
    assert grew("moviemanager_import_phase_duration_seconds_count", phase="parse_and_copy") == 1
    assert value(after, "moviemanager_import_rows_per_second") > 0
    assert grew("moviemanager_page_cache_hits_total") >= 3
    assert grew("moviemanager_page_cache_misses_total") >= 2
    assert value(after, "moviemanager_page_cache_bytes") > 0
    assert value(after, "moviemanager_data_versions_listening") == 1
    for pool in ("sessions", "reads"):
        assert value(after, "moviemanager_db_pool_size", pool=pool) == own_settings.db_pool_size
        assert value(after, "moviemanager_db_pool_open", pool=pool) >= 1
        assert value(after, "moviemanager_db_pool_waiting", pool=pool) == 0
    assert value(after, "moviemanager_process_requests") >= 10

    # No raw path, tenant or token in any label; this test's requests are counted by route template
    # (the registry is the process's: other tests' apps, with routes of their own, counted before).
    labels = {label for key in after for label in key[1]}
    assert not [pair for pair in labels if "metered" in pair[1] or ADMIN_TOKEN in pair[1] or "777" in pair[1]]
    templates = {route.path_format for route in app.router.routes} | {"unmatched", "other"}
    counted_here = {key for key, count in after.items() if count != before.get(key)}
    assert {v for key in counted_here for k, v in key[1] if k == "route"} <= templates


async def test_behind_a_token_the_metrics_ask_for_it(own_settings, own_engine):
    settings = own_settings.model_copy(update={"metrics": "token", "metrics_token": SecretStr(METRICS_TOKEN)})
    async with running(settings, own_engine) as (_, client):
        for headers in ({}, {"Authorization": f"Bearer {ADMIN_TOKEN}"}, {"Authorization": f"Basic {METRICS_TOKEN}"}):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "moviemanager_" not in refused.text
        scraped = await scrape(client, Authorization=f"Bearer {METRICS_TOKEN}")
        assert value(scraped, "moviemanager_http_requests_total", route="/metrics", method="GET", status="401") == 3


async def test_off_there_is_no_metrics_route_and_nothing_is_recorded(own_settings, own_engine):
    async with running(own_settings.model_copy(update={"metrics": "off"}), own_engine) as (app, client):
        assert (await client.get("/metrics")).status_code == 404
        assert app.state.metrics is None


def test_the_token_setting_needs_a_token(monkeypatch):
    monkeypatch.setenv("MOVIEMANAGER_METRICS", "token")
    with pytest.raises(ValidationError, match="MOVIEMANAGER_METRICS_TOKEN"):
        Settings()
    monkeypatch.setenv("MOVIEMANAGER_METRICS_TOKEN", "short")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("MOVIEMANAGER_METRICS_TOKEN", METRICS_TOKEN)
    assert Settings().metrics_token.get_secret_value() == METRICS_TOKEN
    monkeypatch.setenv("MOVIEMANAGER_METRICS", "sometimes")
    with pytest.raises(ValidationError):
        Settings()


async def test_metrics_are_not_in_the_api_schema(client):
    assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]
