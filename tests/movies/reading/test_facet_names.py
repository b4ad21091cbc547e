"""GET /movies/facets names each genre by the tenant's spelling, which each import keeps in
genre_names, counts from the read indexes alone, and with no filter answers what the tenant's last
import stored (facet_counts)."""

import io

from sqlalchemy import text

from moviemanager.movies.importing.bulk import BulkMovies
from moviemanager.movies.importing.parse_workers import parse_to_copy
from moviemanager.movies.reading import views
from moviemanager.movies.reading.etags import Conditional
from moviemanager.movies.reading.filters import NO_FILTERS, MovieFilters
from moviemanager.movies.reading.statements import Parameters, facets_sql, sql_with_conditions

from ...factories import catalog_csv, movie
from .test_indexes import load
from .test_sorts_cursors_and_search import upload
from .test_statement_counts import count_statements

# Three spellings of Comedy (35), two of an unknown genre, and a Category ID that is no genre.
ROWS = [
    movie(1, Genre="Phim Hài, Phim Lạ", Year="2001", Category_ID=""),
    movie(2, Genre="Comedy", Year="2002"),
    movie(3, Genre="hài, PHIM LẠ", Year="2003"),
    movie(4, Genre="Phim Kinh Dị", Year="2004", Category_ID="25"),
]


async def facet_names(client, tenant: str, **filters) -> dict[str, tuple[str, int]]:
    response = await client.get("/movies/facets", params={"tenant": tenant, **filters})
    assert response.status_code == 200, response.text
    return {genre["key"]: (genre["name"], genre["count"]) for genre in response.json()["genres"]}


async def stored_names(connection, tenant: str) -> dict[str, str]:
    await connection.execute(text("SELECT set_config('app.tenant', :tenant, true)"), {"tenant": tenant})
    return dict((await connection.execute(text("SELECT key, name FROM genre_names"))).all())


async def test_a_genre_is_named_by_the_tenants_first_spelling_whatever_the_filters(client):
    await upload(client, "names", ROWS)
    everything = await facet_names(client, "names")
    assert everything == {"35": ("Comedy", 3), "phim la": ("PHIM LẠ", 2), "27": ("Phim Kinh Dị", 1)}
    # The movies of 2001 spell them "Phim Hài" and "Phim Lạ": the names stay the tenant's.
    assert await facet_names(client, "names", year=2001) == {"35": ("Comedy", 1), "phim la": ("PHIM LẠ", 1)}
    assert (await facet_names(client, "names", genre="Phim Hài", year_from=2003)) == {
        "35": ("Comedy", 1),
        "phim la": ("PHIM LẠ", 1),
    }


async def test_each_import_writes_the_names_a_merge_adds_to_them(client, connection):
    await upload(client, "names", ROWS)
    assert await stored_names(connection, "names") == {"35": "Comedy", "phim la": "PHIM LẠ", "27": "Phim Kinh Dị"}
    await upload(client, "names", [movie(5, Genre="Action, Phim Lạ"), movie(6, Genre="Anime")], mode="merge")
    assert await stored_names(connection, "names") == {
        "35": "Comedy",
        "phim la": "PHIM LẠ",
        "27": "Phim Kinh Dị",
        "28": "Action",
        "anime": "Anime",
    }
    await upload(client, "names", [movie(7, Genre="Phim Hài")])  # a replace: only its own names
    assert await stored_names(connection, "names") == {"35": "Phim Hài"}
    assert await facet_names(client, "names") == {"35": ("Phim Hài", 1)}


async def test_the_parsers_names_are_those_sql_derives_from_the_movies(client, connection, uow):
    cells = ["Phim Hài", "Kids, Phim Lạ", "Drama, Phim Kinh Dị"]
    rows = [*ROWS[:3], *(movie(10 + i, Genre=cell) for i, cell in enumerate(cells))]
    parsed = parse_to_copy(io.BytesIO(catalog_csv(rows)), "names", "fail", None, lambda chunk, lines: True)
    await upload(client, "names", rows)
    from_parsers = await stored_names(connection, "names")
    assert from_parsers == parsed.genre_names and len(from_parsers) == 5
    async with uow.for_tenant("names"):
        await BulkMovies(uow.session, "names").write_genre_names()  # as after a merge
        assert await stored_names(await uow.session.connection(), "names") == from_parsers


async def test_repeated_ids_skipped_leave_the_names_of_the_rows_kept(client, connection):
    rows = [movie(1, Genre="Phim Hài"), movie(1, Genre="Comedy, Western"), movie(2, Genre="Phim Kinh Dị")]
    await upload(client, "names", rows, on_error="skip")
    assert await stored_names(connection, "names") == {"35": "Phim Hài", "27": "Phim Kinh Dị"}


async def test_facets_count_from_the_read_indexes_alone(uow, sessions):
    """No matching movie is read from the table: every key counted is one the indexes carry."""
    await load(uow, "big", 20_000)
    async with uow.for_tenant("big"):
        partition = await BulkMovies(uow.session, "big").current_partition()
        connection = (await (await uow.session.connection()).get_raw_connection()).driver_connection
        for filters in (MovieFilters(year_from=2000), MovieFilters(rating_gte=8), MovieFilters(genre="Phim Hài")):
            parameters = Parameters()
            sql = sql_with_conditions(facets_sql("big", partition), filters, parameters)
            rows = await connection.fetch("EXPLAIN ANALYZE " + sql, *parameters.values)
            explained = "\n".join(row[0] for row in rows)
            assert "Index Only Scan" in explained and "Heap Fetches: 0" in explained, explained
            assert f"Seq Scan on {partition} " not in explained, explained
            assert f"Bitmap Heap Scan on {partition} " not in explained, explained


async def test_each_import_stores_the_facets_of_the_whole_catalog_as_they_are_counted(client, uow, connection):
    imports = [
        (ROWS, {}),
        ([movie(5, Genre="Action, Phim Lạ", Year=""), movie(6, Genre="Anime", Rating="")], {"mode": "merge"}),
        ([movie(1, Genre="Phim Hài"), movie(1, Genre="Western"), movie(2, Runtime="")], {"on_error": "skip"}),
        ([], {"allow_shrink": "true"}),
    ]
    for rows, params in imports:
        await upload(client, "stored", rows, **params)
        await connection.execute(text("SELECT set_config('app.tenant', 'stored', true)"))
        assert await connection.scalar(text("SELECT count(*) FROM facet_counts")) == 1
        response = await client.get("/movies/facets", params={"tenant": "stored"})
        assert response.status_code == 200, response.text
        _, counted = await views.movie_facets(uow, "stored", NO_FILTERS, conditional=Conditional("key"))
        assert response.json() == counted, params


async def test_facets_with_no_filter_read_no_movie(client, connection):
    await upload(client, "stored", ROWS)
    async with count_statements(connection) as statements:
        response = await client.get("/movies/facets", params={"tenant": "stored"})
    assert response.status_code == 200 and response.json()["total"] == 4
    assert len(statements) == 2 and not [sql for sql in statements if "movies__" in sql], statements  # tenant, facets
    async with count_statements(connection) as statements:  # a filter: counted live
        response = await client.get("/movies/facets", params={"tenant": "stored", "year_from": 2003})
    assert response.json()["total"] == 2
    assert [sql for sql in statements if "movies__" in sql], statements
