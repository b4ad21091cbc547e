"""The list filters are served by the GIN index, checked with EXPLAIN on a few thousand rows."""

from sqlalchemy import text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from moviemanager.movies.csv_import import MovieRow
from moviemanager.movies.genres import genre_key
from moviemanager.movies.repository import MovieFilters

GENRES = ["Phim Hài", "Phim Chính Kịch", "Phim Hành Động", "Phim Kinh Dị", "Phim Lãng Mạn", "Phim Tài Liệu"]


class Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement):
        self.statement = statement


@compiles(Explain)
def _compile_explain(element, compiler, **kw):
    return "EXPLAIN " + compiler.process(element.statement, **kw)


def synthetic_rows(count: int) -> list[MovieRow]:
    rows = []
    for i in range(1, count + 1):
        genres = [GENRES[i % len(GENRES)], GENRES[(i // 7) % len(GENRES)]]
        data = {
            "movie_name": f"Phim {i}",
            "genre": ", ".join(genres),
            "genres": genres,
            "genre_keys": [genre_key(g) for g in genres],
            "year": 1960 + i % 65,
            # Real rows carry text and links; the planner weighs pages, so the test rows do too.
            "overview": f"Câu chuyện số {i}, " + "một đoạn mô tả dài về bộ phim. " * 12,
            "poster_url": f"https://image.tmdb.org/t/p/w500/{i:027d}.jpg",
            "backdrop_url": f"https://image.tmdb.org/t/p/w1280/{i:027d}.jpg",
            "extra": {},
        }
        rows.append(MovieRow(i + 1, i, data))
    return rows


async def plan(uow, tenant: str, filters: MovieFilters) -> str:
    statement = uow.movies(tenant).list_statement(filters, limit=101)
    return "\n".join(await uow.session.scalars(Explain(statement)))


async def test_genre_and_year_filters_use_the_gin_index(uow):
    async with uow:
        for tenant, count in [("big", 5000), ("small", 500)]:
            await uow.tenants.add_and_lock(tenant)
            await uow.movies(tenant).replace_all(synthetic_rows(count))
        await uow.session.execute(text("ANALYZE movies"))

        selective = await plan(uow, "big", MovieFilters(genre="phim hai", year=2001))
        assert "Seq Scan" not in selective, selective
        assert "ix_movies_data" in selective, selective

        # A filter matching a third of the tenant rather walks the primary key for one page.
        broad = await plan(uow, "big", MovieFilters(genre="Phim Tài Liệu"))
        assert "Seq Scan" not in broad, broad


async def test_unfiltered_page_walks_the_primary_key(uow):
    async with uow:
        await uow.tenants.add_and_lock("big")
        await uow.movies("big").replace_all(synthetic_rows(5000))
        await uow.session.execute(text("ANALYZE movies"))
        explained = await plan(uow, "big", MovieFilters())
    assert "Seq Scan" not in explained, explained
    assert "pk_movies" in explained, explained
