"""The orders a listing can take, and the expressions behind them.

Every key is a column of `movies` that the read indexes lead with or carry (models.py, migration
0013), so a page's movies are chosen from an index alone. Sort keys are never NULL, so a page ends at a row whose
(key, tmdb_id) is the cursor, and the next page is `(key, tmdb_id) > cursor` (or `<`), one row
comparison the btree answers as an index condition.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlalchemy import Integer, Numeric, literal_column

# The SQL of each key, over a table (or alias) named `movies`.
GENRE_KEYS_SQL = "movies.genre_keys"
# The sort keys (generated columns, see models.YEAR_KEY): never NULL (0: unknown year, -1: unrated).
YEAR_SQL = "movies.year_key"
RATING_SQL = "movies.rating_key"
TITLE_SQL = 'movies.sort_title COLLATE "C"'
RUNTIME_SQL = "movies.runtime_minutes"
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
