"""Category administration: create, rename, move, delete; a cycle is refused and changes nothing."""

import pytest
from sqlalchemy import text

from moviemanager.categories import repository

from ..factories import catalog_csv, movie
from .test_category_report import assert_consistent, assert_stored_counts_are_live, flatten, upload


def by_id(tree) -> dict[int, dict]:
    return {node["id"]: node for _, node in flatten(tree)}


async def test_create_rename_move_delete(client, connection):
    created = await client.post("/categories", json={"name": "Neo-Noir", "parent_id": 18})
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["name"] == "Neo-Noir" and new["parent_id"] == 18 and new["id"] > 37
    assert new["id"] in by_id((await client.get("/categories")).json())

    renamed = await client.patch(f"/categories/{new['id']}", json={"name": "Neo Noir"})
    assert renamed.json() == {**new, "name": "Neo Noir"}
    moved = await client.patch(f"/categories/{new['id']}", json={"parent_id": 2})
    assert moved.json() == {**new, "name": "Neo Noir", "parent_id": 2}
    to_root = await client.patch(f"/categories/{new['id']}", json={"parent_id": None})
    assert to_root.json()["parent_id"] is None
    assert new["id"] in [node["id"] for node in (await client.get("/categories?max_level=0")).json()]

    assert (await client.delete(f"/categories/{new['id']}")).status_code == 204
    assert new["id"] not in by_id((await client.get("/categories")).json())
    assert (await client.delete(f"/categories/{new['id']}")).status_code == 404


async def test_a_move_that_makes_a_cycle_is_409_and_changes_nothing(client):
    before = (await client.get("/categories")).json()
    for category, parent in [(1, 1), (1, 6), (1, 17), (6, 18)]:
        response = await client.patch(f"/categories/{category}", json={"parent_id": parent, "name": "Renamed"})
        assert response.status_code == 409, response.text
        assert "cycle" in response.json()["detail"]
    assert (await client.get("/categories")).json() == before


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/categories", {"name": "Action"}, 409),
        ("post", "/categories", {"name": "New", "parent_id": 999}, 422),
        ("post", "/categories", {"name": ""}, 422),
        ("post", "/categories", {}, 422),
        ("post", "/categories", {"name": "New", "parent_id": True}, 422),  # not category 1
        ("post", "/categories", {"name": "New", "parent_id": "1"}, 422),
        ("patch", "/categories/999", {"name": "x"}, 404),
        ("patch", "/categories/1", {"name": "Drama"}, 409),
        ("patch", "/categories/1", {"parent_id": 999}, 422),
        ("patch", "/categories/1", {"parent_id": 0}, 422),
        ("patch", "/categories/2", {"parent_id": True}, 422),
        ("delete", "/categories/1", None, 409),  # has subcategories
        ("delete", "/categories/999", None, 404),
    ],
)
async def test_bad_changes_are_refused_with_a_reason(client, method, path, body, status):
    before = (await client.get("/categories")).json()
    kwargs = {"json": body} if body is not None else {}
    response = await getattr(client, method)(path, **kwargs)
    assert response.status_code == status, response.text
    assert "detail" in response.json()
    assert (await client.get("/categories")).json() == before


async def test_counts_follow_moves_and_deletes(client, connection):
    rows = [
        movie(i, Genre=genre) for i, genre in enumerate(["Phim Hình Sự", "Western", "Phim Hài", "Crime, Comedy"], 1)
    ]
    await upload(client, "admin", catalog_csv(rows))
    await upload(client, "other", catalog_csv(rows[:2]))
    # Crime Thriller (18) from Thriller (6), under Action (1), to Comedy (3).
    assert (await client.patch("/categories/18", json={"parent_id": 3})).status_code == 200
    report = by_id((await client.get("/categories?tenant=admin")).json())
    assert report[1]["total_count"] == 1  # the Western
    assert report[3]["total_count"] == 3  # movies 1, 3, 4
    for tenant in ("admin", "other"):
        await assert_consistent(client, tenant)
        await assert_stored_counts_are_live(connection, tenant)

    assert (await client.delete("/categories/31")).status_code == 204  # Western
    assert (await client.get("/movies/2", params={"tenant": "admin"})).json()["categories"] == []
    assert by_id((await client.get("/categories?tenant=other")).json())[1]["total_count"] == 0
    for tenant in ("admin", "other"):
        await assert_consistent(client, tenant)
        await assert_stored_counts_are_live(connection, tenant)
    # The next import links no movie to the deleted category either.
    await upload(client, "admin", catalog_csv(rows))
    assert (await client.get("/movies/2", params={"tenant": "admin"})).json()["categories"] == []


async def test_a_change_while_a_reload_runs_answers_409_and_changes_nothing(client, engine, monkeypatch):
    monkeypatch.setattr(repository, "ADMIN_LOCK_TIMEOUT", "100ms")
    async with engine.connect() as reload:
        await reload.begin()
        await reload.execute(text("LOCK TABLE categories IN SHARE MODE"))  # what a running import holds
        response = await client.patch("/categories/1", json={"name": "Busy"})
        await reload.rollback()
    assert response.status_code == 409, response.text
    assert "Reloads are running" in response.json()["detail"]
    assert (await client.get("/categories?max_level=0")).json()[0]["name"] == "Action"


async def test_a_rename_or_delete_changes_every_tenants_etags_and_bodies(client):
    for tenant in ("etag_a", "etag_b"):
        await upload(client, tenant, catalog_csv([movie(1, Genre="Phim Nhạc")]))
    before = {t: await client.get("/movies/1", params={"tenant": t}) for t in ("etag_a", "etag_b")}
    assert before["etag_a"].json()["categories"] == [{"id": 32, "name": "Music"}]

    assert (await client.patch("/categories/32", json={"name": "Musicals"})).status_code == 200
    for tenant, response in before.items():
        again = await client.get(
            "/movies/1", params={"tenant": tenant}, headers={"If-None-Match": response.headers["ETag"]}
        )
        assert again.status_code == 200, tenant  # not a 304 with the old name
        assert again.json()["categories"] == [{"id": 32, "name": "Musicals"}]

    renamed = await client.get("/movies/1", params={"tenant": "etag_a"})
    assert (await client.delete("/categories/32")).status_code == 204
    after = await client.get(
        "/movies/1", params={"tenant": "etag_a"}, headers={"If-None-Match": renamed.headers["ETag"]}
    )
    assert after.status_code == 200
    assert after.json()["categories"] == []
