"""A page of search results by relevance, read without ranking every match.

Relevance (ordering.relevance) puts a search's matches in three tiers:

0. the folded title begins with the words as typed (type-ahead: `nguoi gac den song` finds
   "Người Gác Đèn Sông Hương …"), by folded title then TMDB id: a range of the title btree, read
   in its order, so a page costs what any sorted page costs;
1. every word is in a title (Vietnamese or original), by TMDB id: the title-words GIN (0007),
   whose matches are few beside the overviews';
2. the others (a word only in the overview), by TMDB id: the search GIN over all the words.

A page is one statement: each tier's rows after the cursor, limited to the page, appended in tier
order. PostgreSQL runs an Append's subqueries one after the other and the outer LIMIT stops it,
so a tier is read only when the tiers before it cannot fill the page. Tiers 1 and 2 read and sort
every match of their tier (a bitmap over the GIN): a page past the type-ahead matches costs as many
heap reads as the tier has matches.

Tier 1 does not test the search GIN's words: a title's words are among them (search.search_fields).
"""

from sqlalchemy import BigInteger, ColumnElement, Select, Text, literal, literal_column, select, tuple_, union_all
from sqlalchemy.orm import aliased, selectinload

from ..models import Movie
from .ordering import SEARCH_VECTOR, TITLE, TITLE_VECTOR, title_starts_with, tsquery


def relevance_page(
    conditions: list[ColumnElement[bool]], query_text: str, *, limit: int, offset: int = 0, after: tuple = ()
) -> Select:
    """(movie, relevance key) rows of one page; `conditions`: the listing's other filters, `after`:
    the (key, tmdb_id) the previous page ended at."""
    query = tsquery(query_text)
    matches = SEARCH_VECTOR.bool_op("@@")(query)
    starts = title_starts_with(query_text)
    in_titles = TITLE_VECTOR.bool_op("@@")(query)
    first_tier = after[0][:1] if after else "0"

    def tier(key: ColumnElement, *where: ColumnElement[bool]) -> Select:
        return select(Movie.tenant, Movie.tmdb_id, Movie.checksum, Movie.data, key.label("sort_key")).where(
            *conditions, *where
        )

    def after_id(key: str) -> tuple[ColumnElement[bool], ...]:
        return (Movie.tmdb_id > literal(after[1], BigInteger),) if after and first_tier == key else ()

    tiers = []
    if first_tier == "0":
        typed = tier(literal_column("'0'", Text).concat(TITLE), starts, matches)
        if after:
            bound = tuple_(literal(after[0][1:], Text), literal(after[1], BigInteger))
            typed = typed.where(tuple_(TITLE, Movie.tmdb_id) > bound)
        tiers.append(typed.order_by(TITLE, Movie.tmdb_id))
    if first_tier <= "1":
        tiers.append(tier(literal_column("'1'", Text), in_titles, ~starts, *after_id("1")).order_by(Movie.tmdb_id))
    tiers.append(
        tier(literal_column("'2'", Text), matches, ~in_titles, ~starts, *after_id("2")).order_by(Movie.tmdb_id)
    )
    # No ORDER BY outside: the tiers' order is the Append's (an ORDER BY would read every tier).
    pages = union_all(*(each.limit(limit + offset) for each in tiers)).subquery("relevance")
    movie = aliased(Movie, pages)
    return select(movie, pages.c.sort_key).options(selectinload(movie.categories)).limit(limit).offset(offset)
