"""The list filters are served by indexes, checked with EXPLAIN on a few thousand rows."""

import io

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from moviemanager.movies.importer import import_catalog
from moviemanager.movies.repository import MovieFilters
from moviemanager.uow import UnitOfWork

from .factories import catalog_csv, movie

GENRES = ["Phim Hài", "Phim Chính Kịch", "Phim Hành Động", "Phim Kinh Dị", "Phim Lãng Mạn", "Phim Tài Liệu"]


class Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement):
        self.statement = statement


@compiles(Explain)
def _compile_explain(element, compiler, **kw):
    return "EXPLAIN " + compiler.process(element.statement, **kw)


def synthetic_catalog(count: int) -> bytes:
    rows = []
    for i in range(1, count + 1):
        genres = [GENRES[i % len(GENRES)], GENRES[(i // 7) % len(GENRES)]]
        rows.append(
            movie(
                i,
                Genre=", ".join(genres),
                Year=str(1960 + i % 65),
                # Real rows carry text and links; the planner weighs pages, so the test rows do too.
                Overview=f"Câu chuyện số {i}, " + "một đoạn mô tả dài về bộ phim. " * 12,
                Poster_URL=f"https://image.tmdb.org/t/p/w500/{i:027d}.jpg",
            )
        )
    return catalog_csv(rows)


async def load(uow, tenant: str, count: int) -> None:
    await import_catalog(uow, tenant, io.BytesIO(synthetic_catalog(count)), source_name="test")


async def plan(uow, tenant: str, filters: MovieFilters) -> str:
    statement = uow.movies(tenant).list_statement(filters, limit=101)
    return "\n".join(await uow.session.scalars(Explain(statement)))


async def test_genre_and_year_filters_use_their_indexes(uow, sessions):
    for tenant, count in [("big", 5000), ("small", 500)]:
        await load(UnitOfWork(sessions), tenant, count)
    async with uow.for_tenant("big"):
        genre_and_year = await plan(uow, "big", MovieFilters(genre="phim hai", year=2001))
        assert "Seq Scan" not in genre_and_year, genre_and_year
        genre = await plan(uow, "big", MovieFilters(genre="phim hai"))
        assert "Seq Scan" not in genre, genre
        assert "genre_keys" in genre, genre
        year = await plan(uow, "big", MovieFilters(year=2001))
        assert "Seq Scan" not in year, year
        assert "year" in year, year

        # A filter matching a third of the tenant rather walks the primary key for one page.
        broad = await plan(uow, "big", MovieFilters(genre="Phim Tài Liệu"))
        assert "Seq Scan" not in broad, broad


async def test_unfiltered_page_walks_the_primary_key(uow, sessions):
    await load(UnitOfWork(sessions), "big", 5000)
    async with uow.for_tenant("big"):
        explained = await plan(uow, "big", MovieFilters())
    assert "Seq Scan" not in explained, explained
    assert "Index Scan using movies__big__" in explained, explained
