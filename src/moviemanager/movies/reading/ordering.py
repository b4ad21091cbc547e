"""The orders a listing can take, and the expressions behind them.

Every expression is written exactly as an index of migrations 0004-0010 defines it (keys inline: a
bound key would not match the index). Sort keys are never NULL, so a page ends at a row whose
(key, tmdb_id) is the cursor, and the next page is `(key, tmdb_id) > cursor` (or `<`), one row
comparison the btree answers as an index condition.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlalchemy import Integer, Numeric, literal_column

from ...models import RATING_KEY, YEAR_KEY

# The SQL of each expression, over a table (or alias) named `movies`.
GENRE_KEYS_SQL = "movies.data -> 'genre_keys'"


def _on_movies(index_expression: str) -> str:
    """An index expression of models.py (on `data`), on one line and over `movies.data`."""
    return " ".join(index_expression.split()).replace("(data ->>", "(movies.data ->>")


# The sort keys' indexes (models.py): never NULL (0: unknown year, -1: unrated).
YEAR_SQL = _on_movies(YEAR_KEY)
RATING_SQL = _on_movies(RATING_KEY)
TITLE_SQL = 'movies.sort_title COLLATE "C"'
RUNTIME_SQL = "(movies.data ->> 'runtime_minutes')::integer"
# The stored words (see search.py): tsvector columns, filled by COPY, no text parser runs.
SEARCH_VECTOR_SQL = "movies.search_words"
TITLE_WORDS_SQL = "movies.title_words"

# For statements built with SQLAlchemy (facets).
YEAR = literal_column(YEAR_SQL, type_=Integer)
RATING = literal_column(RATING_SQL, type_=Numeric)
RUNTIME = literal_column(RUNTIME_SQL, type_=Integer)

Sort = Literal["tmdb_id", "rating", "-rating", "year", "-year", "title", "-title", "relevance"]
SORTS: tuple[str, ...] = Sort.__args__

# Takes a parameter's value, returns its placeholder in the statement being written (statements.Parameters).
Bind = Callable[[object], str]


def tsquery_sql(placeholder: str) -> str:
    """A tsquery from its input form (search.tsquery_text), cast: its words are taken as written."""
    return f"CAST(CAST({placeholder} AS text) AS tsquery)"


@dataclass(frozen=True)
class Order:
    """A sort: the key (None: TMDB id alone) and its direction, which the tie-breaker shares.
    Relevance has a key of its own per tier (relevance.py)."""

    name: str
    key_sql: str | None
    descending: bool
    key_type: type

    @property
    def key(self) -> str:
        """The key's SQL ("movies.tmdb_id" for TMDB id order)."""
        return self.key_sql or "movies.tmdb_id"

    def key_from_json(self, value: object) -> object:
        """A cursor's key as the database compares it; ValueError when it cannot be one."""
        if self.key_type is Decimal:
            if not isinstance(value, str):
                raise ValueError("rating key must be text")
            return Decimal(value)
        if not isinstance(value, self.key_type) or isinstance(value, bool):
            raise ValueError(f"key must be {self.key_type.__name__}")
        if self.name == "relevance" and value[:1] not in ("0", "1", "2"):
            raise ValueError("relevance key must name its tier")
        return value

    @staticmethod
    def key_to_json(value: object) -> object:
        return str(value) if isinstance(value, Decimal) else value


def order_for(sort: str) -> Order:
    """The order of a `sort=` value; `relevance` needs a search (checked by the service)."""
    descending = sort.startswith("-")
    match sort.lstrip("-"):
        case "rating":
            return Order(sort, RATING_SQL, descending, Decimal)
        case "year":
            return Order(sort, YEAR_SQL, descending, int)
        case "title":
            return Order(sort, TITLE_SQL, descending, str)
        case "relevance":
            return Order(sort, None, False, str)
        case _:
            return Order(sort, None, False, int)
