"""The orders a listing can take, and the expressions behind them.

Every expression is written exactly as an index of migrations 0004-0007 defines it (keys inline: a bound
key would not match the index). Sort keys are never NULL, so a page ends at a row whose
(key, tmdb_id) is the cursor, and the next page is `(key, tmdb_id) > cursor` (or `<`), one row
comparison the btree answers as an index condition.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlalchemy import ColumnElement, Integer, Numeric, Text, and_, case, cast, false, literal, literal_column
from sqlalchemy.dialects.postgresql import JSONB, TSQUERY, TSVECTOR

from .search import prefix_end, title_prefix

GENRE_KEYS = literal_column("movies.data -> 'genre_keys'", type_=JSONB)
# Never NULL (0: unknown, -1: unrated). CASE, not COALESCE: under row-level security PostgreSQL
# takes a COALESCE for leaky and keeps it out of index conditions (migration 0006).
YEAR = literal_column(
    "CASE WHEN (movies.data ->> 'year') IS NULL THEN 0 ELSE (movies.data ->> 'year')::integer END", type_=Integer
)
RATING = literal_column(
    "CASE WHEN (movies.data ->> 'rating') IS NULL THEN -1 ELSE (movies.data ->> 'rating')::numeric END", type_=Numeric
)
TITLE = literal_column("(movies.data ->> 'sort_title') COLLATE \"C\"", type_=Text)
RUNTIME = literal_column("(movies.data ->> 'runtime_minutes')::integer", type_=Integer)
# The stored words (see search.py), cast: no text parser runs, at import or at query time.
SEARCH_VECTOR = literal_column("((movies.data ->> 'search_words')::tsvector)", type_=TSVECTOR)
TITLE_VECTOR = literal_column("((movies.data ->> 'title_words')::tsvector)", type_=TSVECTOR)

Sort = Literal["tmdb_id", "rating", "-rating", "year", "-year", "title", "-title", "relevance"]
SORTS: tuple[str, ...] = Sort.__args__


def tsquery(text: str) -> ColumnElement:
    """A tsquery from its input form (search.tsquery_text), cast: its words are taken as written."""
    return cast(text, TSQUERY)


def title_starts_with(query_text: str) -> ColumnElement[bool]:
    """The folded title begins with the search's words as typed: a range of the title btree."""
    prefix = title_prefix(query_text)
    end = prefix_end(prefix)
    return false() if end is None else and_(literal(prefix, Text) <= TITLE, literal(end, Text) > TITLE)


def relevance(query_text: str) -> ColumnElement:
    """A match's place by relevance, ascending, then TMDB id: '0' and its folded title when the
    title begins with the words (type-ahead), '1' when every word is in a title, '2' when one is
    in the overview only. The key of one page is computed tier by tier (relevance.py)."""
    return case(
        (title_starts_with(query_text), literal_column("'0'", Text).concat(TITLE)),
        (TITLE_VECTOR.bool_op("@@")(tsquery(query_text)), literal_column("'1'", Text)),
        else_=literal_column("'2'", Text),
    ).collate("C")


@dataclass(frozen=True)
class Order:
    """A sort: the key (None: TMDB id alone) and its direction, which the tie-breaker shares."""

    name: str
    key: ColumnElement | None
    descending: bool
    key_type: type

    def key_from_json(self, value: object) -> object:
        """A cursor's key as the database compares it; ValueError when it cannot be one."""
        if self.key_type is Decimal:
            if not isinstance(value, str):
                raise ValueError("rating key must be text")
            return Decimal(value)
        if self.key_type is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, self.key_type) or isinstance(value, bool):
            raise ValueError(f"key must be {self.key_type.__name__}")
        return value

    @staticmethod
    def key_to_json(value: object) -> object:
        return str(value) if isinstance(value, Decimal) else value


def order_for(sort: str, query_text: str | None) -> Order:
    """The order of a `sort=` value; `relevance` needs a search (checked by the service)."""
    descending = sort.startswith("-")
    match sort.lstrip("-"):
        case "rating":
            return Order(sort, RATING, descending, Decimal)
        case "year":
            return Order(sort, YEAR, descending, int)
        case "title":
            return Order(sort, TITLE, descending, str)
        case "relevance":
            assert query_text is not None
            return Order(sort, relevance(query_text), False, str)
        case _:
            return Order(sort, None, False, int)
