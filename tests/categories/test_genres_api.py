"""Canonical genres: GET /genres, the genre filter by id or name, localised names, unknown names."""

import pytest
from sqlalchemy import text

from moviemanager.movies.genres import CANONICAL_GENRES, preferred_language

from ..factories import catalog_csv, movie


async def upload(client, tenant: str, data: bytes):
    return await client.post("/reload", params={"tenant": tenant}, files={"file": ("c.csv", data, "text/csv")})


@pytest.fixture
async def catalog(client):
    rows = [
        movie(10, Genre="Phim Hài, Phim Chính Kịch"),
        movie(20, Genre="Comedy"),
        movie(30, Genre="drama"),
        movie(40, Genre="Phim Bollywood, Phim Hành Động"),
        movie(50, Genre="phim bollywood"),
        movie(60, Genre=""),
    ]
    response = await upload(client, "gamma", catalog_csv(rows))
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_genres_table_holds_the_canonical_genres(connection):
    rows = (await connection.execute(text("SELECT id, name_en, name_vi FROM genres ORDER BY id"))).all()
    assert rows == sorted((g.id, g.name_en, g.name_vi) for g in CANONICAL_GENRES)


async def test_get_genres_lists_them_with_counts_for_a_tenant(client, catalog):
    plain = (await client.get("/genres")).json()
    assert len(plain) == 27
    assert {"id": 35, "name_en": "Comedy", "name_vi": "Phim Hài"} in plain
    counted = {g["id"]: g["movie_count"] for g in (await client.get("/genres", params={"tenant": "gamma"})).json()}
    assert counted[35] == 2 and counted[18] == 2 and counted[28] == 1 and counted[27] == 0
    assert (await client.get("/genres", params={"tenant": "nobody"})).status_code == 404


@pytest.mark.parametrize("genre", ["hai", "Phim Hài", "phim hai", "Comedy", "COMEDY", "35", " 35 "])
async def test_a_genre_by_id_english_or_vietnamese_name_with_or_without_accents(client, catalog, genre):
    response = await client.get("/movies", params={"tenant": "gamma", "genre": genre})
    assert [m["tmdb_id"] for m in response.json()] == ["10", "20"]


@pytest.mark.parametrize(
    ("genre", "expected"),
    [
        ("35,18", ["10"]),
        ("Comedy,Phim Chính Kịch", ["10"]),
        ("35|18", ["10", "20", "30"]),
        ("hai|Action", ["10", "20", "40"]),
        ("Phim Bollywood", ["40", "50"]),  # an unknown name kept as written still finds its movies
        ("Bollywood", []),
        ("Nothing at all", []),
        ("99999", []),
        ("35,Nothing", []),
        ("Nothing|35", ["10", "20"]),
        (",", []),
        ("|", []),
    ],
)
async def test_all_and_any_of_several_genres(client, catalog, genre, expected):
    response = await client.get("/movies", params={"tenant": "gamma", "genre": genre})
    assert response.status_code == 200
    assert [m["tmdb_id"] for m in response.json()] == expected


async def test_unknown_genres_are_kept_and_reported_once_each(catalog):
    assert catalog["warning_count"] == 1
    [warning] = catalog["warnings"]
    assert warning["line"] == 5 and warning["column"] == "Genre" and warning["value"] == "Phim Bollywood"
    assert "2 rows" in warning["reason"] and "kept as written" in warning["reason"]


async def test_accept_language_picks_the_genre_names(client, catalog):
    async def genres(language: str | None) -> list[list[str]]:
        headers = {"Accept-Language": language} if language else {}
        response = await client.get("/movies", params={"tenant": "gamma"}, headers=headers)
        return [m["genres"] for m in response.json()]

    assert await genres(None) == [
        ["Phim Hài", "Phim Chính Kịch"],
        ["Comedy"],
        ["drama"],
        ["Phim Bollywood", "Phim Hành Động"],
        ["phim bollywood"],
        [],
    ]
    assert (await genres("en"))[:5] == [
        ["Comedy", "Drama"],
        ["Comedy"],
        ["Drama"],
        ["Phim Bollywood", "Action"],
        ["phim bollywood"],
    ]
    assert (await genres("vi-VN, en;q=0.5"))[:4] == [
        ["Phim Hài", "Phim Chính Kịch"],
        ["Phim Hài"],
        ["Phim Chính Kịch"],
        ["Phim Bollywood", "Phim Hành Động"],
    ]
    one = await client.get("/movies/30", params={"tenant": "gamma"}, headers={"Accept-Language": "vi"})
    assert one.json()["genres"] == ["Phim Chính Kịch"]


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, None),
        ("", None),
        ("fr", None),
        ("vi", "vi"),
        ("en-US,en;q=0.9", "en"),
        ("fr, en;q=0.4, vi;q=0.8", "vi"),
        ("vi;q=0, en", "en"),
        ("vi;q=abc, en;q=0.1", "en"),
        ("*", None),
    ],
)
def test_preferred_language(header, language):
    assert preferred_language(header) == language
