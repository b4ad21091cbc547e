"""GET /categories: the master tree (extended by migration 0003b), nested, cut at max_level."""

import asyncio
import gc
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..factories import catalog_csv, movie

ROOTS = [(1, "Action"), (2, "Drama"), (3, "Comedy"), (4, "Horror"), (5, "Science Fiction")] + [
    (26, "Animation"),
    (27, "Documentary"),
    (28, "Family"),
    (29, "Fantasy"),
    (30, "Mystery"),
]
CATEGORIES = 37


@pytest.fixture
async def connection(owner_engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """As the owner: a test below writes a cycle into categories by hand, as an operator could."""
    async with owner_engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


def names(nodes) -> list[str]:
    return [node["name"] for node in nodes]


def depth(nodes) -> int:
    return 1 + max((depth(node["subcategories"]) for node in nodes if node["subcategories"]), default=0)


def count(nodes) -> int:
    return sum(1 + count(node["subcategories"]) for node in nodes)


async def test_max_level_0_gives_roots_only(client):
    response = await client.get("/categories", params={"max_level": 0})
    assert response.status_code == 200
    tree = response.json()
    assert [(n["id"], n["name"]) for n in tree] == ROOTS
    assert all(n["subcategories"] == [] for n in tree)


async def test_max_level_1_adds_the_children(client):
    tree = (await client.get("/categories", params={"max_level": 1})).json()
    action = tree[0]
    assert names(action["subcategories"]) == ["Thriller", "Adventure", "Martial Arts", "Western"]
    assert all(child["subcategories"] == [] for child in action["subcategories"])
    assert depth(tree) == 2 and count(tree) == 28


async def test_a_max_level_deeper_than_the_tree_gives_the_whole_tree(client):
    deep = (await client.get("/categories", params={"max_level": 2**31 - 1})).json()
    assert deep == (await client.get("/categories")).json()


async def test_max_level_2_and_unlimited_give_the_whole_tree(client):
    level_2 = (await client.get("/categories", params={"max_level": 2})).json()
    unlimited = (await client.get("/categories")).json()
    assert level_2 == unlimited
    assert count(unlimited) == CATEGORIES and depth(unlimited) == 3
    thriller = unlimited[0]["subcategories"][0]
    assert thriller == {
        "id": 6,
        "name": "Thriller",
        "subcategories": [
            {"id": 17, "name": "Spy Thriller", "subcategories": []},
            {"id": 18, "name": "Crime Thriller", "subcategories": []},
        ],
    }
    cyberpunk = unlimited[4]["subcategories"][1]
    assert cyberpunk["subcategories"] == [{"id": 25, "name": "Dystopian", "subcategories": []}]


@pytest.mark.parametrize("max_level", [-1, "x", 2**31, 10**20])
async def test_bad_max_level_is_422(client, max_level):
    response = await client.get("/categories", params={"max_level": max_level})
    assert response.status_code == 422


async def test_a_cycle_inserted_by_hand_does_not_hang_the_tree(client, connection):
    await connection.execute(
        text("INSERT INTO categories (id, name, parent_id) VALUES (901, 'Loop A', NULL), (902, 'Loop B', 901)")
    )
    await connection.execute(text("UPDATE categories SET parent_id = 902 WHERE id = 901"))
    response = await asyncio.wait_for(client.get("/categories"), timeout=5)
    assert response.status_code == 200
    assert count(response.json()) == CATEGORIES


@pytest.mark.parametrize("params", [{}, {"tenant": "gc", "year_from": "2000"}, {"tenant": "nobody"}])
async def test_the_garbage_collector_runs_again_after_a_tree_whether_answered_or_refused(client, params):
    """The tree is made with the collector paused (categories.service.gc_paused); a request must
    never leave it off, not even one that fails."""
    files = {"file": ("gc.csv", catalog_csv([movie(1, Year="2001")]), "text/csv")}
    assert (await client.post("/reload", params={"tenant": "gc"}, files=files)).status_code == 200
    assert gc.isenabled()
    response = await client.get("/categories", params=params)
    assert response.status_code == (404 if params.get("tenant") == "nobody" else 200), response.text
    assert gc.isenabled()
