"""The filters of a listing, as SQL conditions on `movies`: every read shares them (the pages and
movies of reading/views.py, facets, category counts and exports)."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import asyncpg
import orjson
from sqlalchemy import ColumnElement, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..columns import RUNTIME_RANGE, YEAR_RANGE
from ..genres import EXPLICIT_CATEGORY_KEY, canonical_genre, genre_key
from .ordering import GENRE_KEYS_SQL, RATING_SQL, RUNTIME_SQL, SEARCH_VECTOR_SQL, YEAR_SQL, Bind, tsquery_sql

MAX_CATEGORY_ID = 2**31 - 1


@dataclass(frozen=True, kw_only=True)
class MovieFilters:
    genre: str | None = None
    year: int | None = None
    year_from: int | None = None
    year_to: int | None = None
    rating_gte: Decimal | None = None
    rating_lte: Decimal | None = None
    runtime_lte: int | None = None
    search: str | None = None  # a tsquery text (see search.tsquery_text), not the words typed
    category: int | None = None
    # What puts a movie in `category` or below it, looked up by resolved(): the genres mapped to
    # the subtree's categories, and the subtree's categories themselves (a movie's explicit one).
    # Constants in the SQL, so that the planner sees how many movies they hold. Not part of the
    # filters' identity.
    category_genres: tuple[int, ...] | None = None
    category_subtree: tuple[int, ...] | None = None

    async def resolved(self, look_up: "CategorySubtree") -> "MovieFilters":
        """These filters, ready for where(): with the category's genres and subtree looked up."""
        if self.category is None or self.category_genres is not None or self._matches_nothing():
            return self
        genres, subtree = await look_up(self.category)
        return replace(self, category_genres=tuple(genres), category_subtree=tuple(subtree))

    def where(self, bind: Bind) -> list[str]:
        """The filters as SQL conditions on `movies`; `bind` takes each value and returns its
        placeholder. Each matches an expression index of migrations 0004/0006 (runtime is only checked)."""
        if self._matches_nothing():
            return ["false"]
        conditions: list[str] = []
        if self.genre:
            conditions.append(_genre_condition(self.genre, bind))
        if self.year is not None:
            conditions.append(f"{YEAR_SQL} = {bind(self.year)}")
        if self.year_from is not None or self.year_to is not None:
            # Bounded by the valid years, so unknown years (0) never match a range.
            low = max(self.year_from or YEAR_RANGE[0], YEAR_RANGE[0])
            high = min(self.year_to if self.year_to is not None else YEAR_RANGE[1], YEAR_RANGE[1])
            conditions.append(f"{YEAR_SQL} BETWEEN {bind(low)} AND {bind(high)}")
        if self.rating_gte is not None or self.rating_lte is not None:
            low = max(self.rating_gte or Decimal(0), Decimal(0))  # unrated (-1) never matches
            high = self.rating_lte if self.rating_lte is not None else Decimal(10)
            conditions.append(f"{RATING_SQL} BETWEEN {bind(low)} AND {bind(high)}")
        if self.runtime_lte is not None:
            conditions.append(f"{RUNTIME_SQL} BETWEEN 0 AND {bind(min(self.runtime_lte, RUNTIME_RANGE[1]))}")
        if self.search is not None:
            conditions.append(f"{SEARCH_VECTOR_SQL} @@ {tsquery_sql(bind(self.search))}")
        if self.category is not None:
            if self.category_genres is None or self.category_subtree is None:
                raise ValueError("the category's genres are not looked up: call MovieFilters.resolved() first")
            conditions.append(_in_category(self.category_genres, self.category_subtree, bind))
        return conditions

    def _matches_nothing(self) -> bool:
        """Values no stored movie can have (checked before any is bound: a statement must use
        every parameter it is given)."""
        return (
            # no stored genre holds a NUL, and PostgreSQL JSONB cannot either
            (self.genre is not None and "\x00" in self.genre)
            # no stored movie has such a year, and it may not fit an integer
            or (self.year is not None and not YEAR_RANGE[0] <= self.year <= YEAR_RANGE[1])
            or (self.category is not None and not 0 < self.category <= MAX_CATEGORY_ID)
        )

    def conditions(self) -> list[ColumnElement[bool]]:
        """The same conditions for statements built with SQLAlchemy."""
        values: dict[str, object] = {}

        def bind(value: object) -> str:
            name = f"filter_{len(values)}"
            values[name] = value
            return f":{name}"

        conditions = self.where(bind)
        if not conditions:
            return []
        return [text(" AND ".join(f"({condition})" for condition in conditions)).bindparams(**values)]

    def canonical(self) -> bytes:
        """The filters as bytes, equal for equal filters (cursors are bound to them)."""
        values = {name: str(value) for name, value in vars(self).items() if value is not None}
        values.pop("category_genres", None)
        values.pop("category_subtree", None)
        return orjson.dumps(values)


def _genre_condition(value: str, bind: Bind) -> str:
    """`a,b`: all of them, `a|b`: any of them (as TMDB's with_genres), each an id or a name.

    A canonical genre is matched by its id; another name by its key, as the importer keeps unknown
    names (see genres.genre_keys). One containment test per alternative, on the GIN index.
    """
    alternatives = []
    for alternative in value.split("|"):
        terms = [term for term in alternative.split(",") if term.strip()]
        if terms:
            keys = [canonical_genre(term) or genre_key(term) for term in terms]
            alternatives.append(f"{GENRE_KEYS_SQL} @> CAST({bind(orjson.dumps(keys).decode())} AS jsonb)")
    return "(" + " OR ".join(alternatives) + ")" if alternatives else "false"


def _in_category(genres: Sequence[int], subtree: Sequence[int], bind: Bind) -> str:
    """Movies with any of these canonical genres, or whose explicit category is one of `subtree`
    (kept in genre_keys, see movies/category_counts.py): one containment test each, on the GIN index."""
    keys = [*([genre] for genre in genres), *([{EXPLICIT_CATEGORY_KEY: category}] for category in subtree)]
    tests = [f"{GENRE_KEYS_SQL} @> CAST({bind(orjson.dumps(key).decode())} AS jsonb)" for key in keys]
    return "(" + " OR ".join(tests) + ")" if tests else "false"


# What puts a movie in a category or below it (see movies/category_counts.py), as one row: the genres
# mapped to the subtree's categories, and the subtree's categories (an explicit category is one
# of them). The path stops the walk at a cycle inserted by hand.
CATEGORY_SUBTREE_SQL = """
    WITH RECURSIVE subtree(id, path) AS (
        SELECT categories.id, ARRAY[categories.id] FROM categories WHERE categories.id = {category}
        UNION ALL
        SELECT categories.id, subtree.path || categories.id
        FROM categories JOIN subtree ON categories.parent_id = subtree.id
        WHERE array_position(subtree.path, categories.id) IS NULL
    )
    SELECT
        ARRAY(SELECT DISTINCT genre_categories.genre_id FROM genre_categories
              WHERE genre_categories.category_id IN (SELECT id FROM subtree) ORDER BY 1) AS genres,
        ARRAY(SELECT DISTINCT subtree.id FROM subtree ORDER BY 1) AS subtree"""

# A category's id → (the genres, the categories) that put a movie in its subtree.
CategorySubtree = Callable[[int], Awaitable[tuple[list[int], list[int]]]]


def category_subtree(session: AsyncSession) -> CategorySubtree:
    """MovieFilters.resolved's lookup, in the session's transaction (facets, exports, counts)."""

    async def look_up(category: int) -> tuple[list[int], list[int]]:
        genres, subtree = (await session.execute(_SUBTREE_BY_NAME, {"category": category})).one()
        return list(genres), list(subtree)

    return look_up


def category_subtree_on(connection: asyncpg.Connection) -> CategorySubtree:
    """The same lookup on a read pool connection (reading/views.py)."""

    async def look_up(category: int) -> tuple[list[int], list[int]]:
        genres, subtree = await connection.fetchrow(_SUBTREE_BY_POSITION, category)
        return list(genres), list(subtree)

    return look_up


_SUBTREE_BY_NAME = text(CATEGORY_SUBTREE_SQL.format(category=":category"))
_SUBTREE_BY_POSITION = CATEGORY_SUBTREE_SQL.format(category="$1")


NO_FILTERS = MovieFilters()
