"""Answers from memory, before routing (movies/reading/cached_answers.py): for a request whose response this
process keeps, the same bytes the routes send; every other request goes to the routes."""

import httpx
import pytest

from moviemanager.movies.reading import cached_answers, views

from ...live_app import eventually, reload, running

# Headers that differ between two answers to the same request whoever gives them.
PER_RESPONSE = {"x-process-time", "date"}

REQUESTS = [
    ("/movies", {"tenant": "mem", "limit": "2"}, {}),  # with a Link
    ("/movies", {"tenant": "mem", "count": "exact", "sort": "-rating"}, {}),  # with X-Total-Count
    ("/movies", {"limit": "2", "q": "movie"}, {"X-Tenant": "mem", "Accept-Language": "vi"}),
    ("/movies/2", {"tenant": "mem"}, {"Origin": "http://elsewhere.example"}),  # CORS applies all the same
    ("/movies/3", {}, {"X-Tenant": "mem", "Accept-Language": "en"}),
    ("/movies", {"tenant": "mem", "limit": "3"}, {"X-Tenant": "another"}),  # the parameter wins
]


class Routed(Exception):
    """A read reached the routes."""


def refuse(*args, **kwargs):
    raise Routed()


def comparable(response: httpx.Response) -> tuple:
    headers = sorted((name, value) for name, value in response.headers.multi_items() if name not in PER_RESPONSE)
    return response.status_code, response.content, headers


@pytest.fixture
def routes_only(monkeypatch):
    """Switches the answers from memory off until `routes_only.undo()`."""
    monkeypatch.setattr(cached_answers, "_answer", lambda scope: None)
    return monkeypatch


async def test_a_kept_response_is_answered_before_routing_with_the_routes_bytes(own_settings, own_engine, routes_only):
    async with running(own_settings, own_engine) as (app, client):
        await reload(client, "mem", [1, 2, 3, 4])
        await eventually(lambda: app.state.caches.versions.get("mem") is not None)
        routed = []  # (a 200, a 304) per request, from the routes
        for path, params, headers in REQUESTS:
            fresh = await client.get(path, params=params, headers=headers)
            assert fresh.status_code == 200, fresh.text
            conditional = {**headers, "If-None-Match": fresh.headers["etag"]}
            revalidated = await client.get(path, params=params, headers=conditional)
            assert revalidated.status_code == 304
            routed.append((fresh, revalidated))
        assert "link" in routed[0][0].headers and "x-total-count" in routed[1][0].headers

        routes_only.undo()
        routes_only.setattr(views, "list_movies", refuse)
        routes_only.setattr(views, "get_movie", refuse)
        for (path, params, headers), (fresh, revalidated) in zip(REQUESTS, routed, strict=True):
            again = await client.get(path, params=params, headers=headers)
            assert comparable(again) == comparable(fresh), path
            conditional = {**headers, "If-None-Match": fresh.headers["etag"]}
            assert comparable(await client.get(path, params=params, headers=conditional)) == comparable(revalidated)
            any_tag = await client.get(path, params=params, headers={**headers, "If-None-Match": "*"})
            assert comparable(any_tag) == comparable(revalidated)


async def test_every_other_request_goes_to_the_routes(own_settings, own_engine, monkeypatch):
    async with running(own_settings, own_engine) as (app, client):
        await reload(client, "other", [1, 2, 3])
        versions = app.state.caches.versions
        await eventually(lambda: versions.get("other") is not None)
        kept = await client.get("/movies", params={"tenant": "other", "limit": "2"})
        monkeypatch.setattr(views, "list_movies", refuse)
        assert (await client.get("/movies", params={"tenant": "other", "limit": "2"})).content == kept.content

        # the parameter names the tenant over the header, from memory as in the routes
        both = await client.get("/movies", params={"tenant": "other", "limit": "2"}, headers={"X-Tenant": "mem"})
        assert both.content == kept.content and both.headers["x-tenant"] == "other"
        for changed in ({"limit": "3"}, {"limit": "2", "sort": "year"}, {"limit": "2", "tenant": "nope"}):
            with pytest.raises(Routed):
                await client.get("/movies", params={"tenant": "other", **changed})
        with pytest.raises(Routed):
            await client.get("/movies", params={"tenant": "other", "limit": "2"}, headers={"Accept-Language": "vi"})
        versions.forget()  # as when the listener's connection is lost
        with pytest.raises(Routed):
            await client.get("/movies", params={"tenant": "other", "limit": "2"})


async def test_with_the_page_cache_off_the_routes_answer_everything(own_settings, own_engine, monkeypatch):
    async with running(own_settings.model_copy(update={"page_cache_mb": 0}), own_engine) as (app, client):
        await reload(client, "nocache", [1])
        await eventually(lambda: app.state.caches.versions.get("nocache") is not None)
        first = await client.get("/movies", params={"tenant": "nocache"})
        monkeypatch.setattr(views, "list_movies", refuse)
        with pytest.raises(Routed):
            await client.get("/movies", params={"tenant": "nocache"}, headers={"If-None-Match": first.headers["etag"]})
