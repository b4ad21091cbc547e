"""The query parameters of GET /movies and GET /movies/facets, as one dependency each."""

from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Header, Query

from ..errors import InvalidListing
from .genres import Language, preferred_language
from .repository import MovieFilters
from .search import query_words, tsquery_text

MAX_QUERY_CHARS = 200
GENRE_DESCRIPTION = (
    "A genre id or name, English or Vietnamese, with or without accents (35, Comedy, Phim Hài, hai);"
    " `a,b`: all of them, `a|b`: any of them"
)
LANGUAGE_DESCRIPTION = "vi or en: the language of the canonical genre names in `genres`; otherwise as written"


async def movie_filters(
    genre: Annotated[str | None, Query(description=GENRE_DESCRIPTION)] = None,
    year: Annotated[int | None, Query(description="Release year")] = None,
    category: Annotated[
        int | None, Query(description="A category id: movies in it or in any category below it")
    ] = None,
    year_from: Annotated[int | None, Query(ge=0, le=9999, description="Released in this year or later")] = None,
    year_to: Annotated[int | None, Query(ge=0, le=9999, description="Released in this year or earlier")] = None,
    rating_gte: Annotated[float | None, Query(ge=0, le=10, description="Rating at least this (0–10)")] = None,
    rating_lte: Annotated[float | None, Query(ge=0, le=10, description="Rating at most this (0–10)")] = None,
    runtime_lte: Annotated[int | None, Query(ge=0, le=100_000, description="Runtime at most this many minutes")] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=MAX_QUERY_CHARS,
            description="Search titles and overviews, ignoring case and accents (`hai huoc` finds 'Hài Hước');"
            " every word must match, the last as a prefix (`stran` finds 'Stranger Things')",
        ),
    ] = None,
) -> MovieFilters:
    search = None
    if q is not None:
        words = query_words(q)
        if not words:
            raise InvalidListing("q has no letters or digits to search for")
        search = tsquery_text(words)
    return MovieFilters(
        genre=genre,
        year=year,
        year_from=year_from,
        year_to=year_to,
        rating_gte=None if rating_gte is None else Decimal(repr(rating_gte)),
        rating_lte=None if rating_lte is None else Decimal(repr(rating_lte)),
        runtime_lte=runtime_lte,
        search=search,
        category=category,
    )


async def response_language(
    accept_language: Annotated[str | None, Header(description=LANGUAGE_DESCRIPTION)] = None,
) -> Language | None:
    return preferred_language(accept_language)


FiltersDep = Annotated[MovieFilters, Depends(movie_filters)]
LanguageDep = Annotated[Language | None, Depends(response_language)]
