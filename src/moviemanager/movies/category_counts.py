"""Which categories movies are in, and how many per category: one definition, used by the reads,
the `category=` filter, imports (which write each tenant's counts), category administration and
the category tree's report (migration 0003b counts with its own copy).

A movie is in the categories of its canonical genres: `genre_keys` in its data holds their ids
(see movies/genres.py), and `genre_categories` maps each to its categories. A movie whose CSV row
names a `Category ID` is in that category too: `genre_keys` ends with `{"category": id}` (the
importer puts it there, beside `data.category_id`), so the GIN index on `genre_keys` finds it as
it finds a genre. An explicit category that was deleted since is found no more. Nothing else is
stored (migration 0011 says why the links are derived, not kept).
"""

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    any_,
    cast,
    column,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, array
from sqlalchemy.sql.selectable import CTE

from ..models import Category, CategoryCount, Movie
from ..movies.genres import EXPLICIT_CATEGORY_KEY

# The id a genre_keys value ({genre_keys}, an SQL expression) names as the movie's explicit
# category (its Category ID), or NULL: genre_keys holds it last (see movies/genres.py).
EXPLICIT_ID_SQL = f"CAST({{genre_keys}} -> -1 ->> '{EXPLICIT_CATEGORY_KEY}' AS integer)"
# The categories a genre_keys value puts a movie in, one row (id) each: its genres' categories,
# and its explicit category if that still exists. UNION: two genres may share a category (Action,
# Action & Adventure), and the explicit one may be a genre's too. Unknown genres' keys are
# strings, which no genre_id equals. The explicit id is read where it is, not by a second pass
# over the keys, and kept out of the join, whose hash PostgreSQL then builds once per statement.
MOVIE_CATEGORIES_SQL = f"""(
    SELECT genre_categories.category_id AS id
    FROM jsonb_array_elements({{genre_keys}}) AS genre(key)
    JOIN genre_categories ON to_jsonb(genre_categories.genre_id) = genre.key
    UNION
    SELECT categories.id FROM categories
    WHERE {EXPLICIT_ID_SQL} IS NOT NULL AND categories.id = {EXPLICIT_ID_SQL}  -- most movies: not even a scan
)"""


def category_set_sql(genre_keys: str) -> str:
    """The same as a sorted array of ids (empty for none): movies with equal sets group together."""
    categories = MOVIE_CATEGORIES_SQL.format(genre_keys=genre_keys)
    return f"ARRAY(SELECT category.id FROM {categories} AS category ORDER BY category.id)"


def ancestry(members: Select) -> CTE:
    """(id, ancestor): each category of `members` (a select of ids) with itself and every category
    above it, walking up (a recursive CTE).

    Up, not down from the roots: a report needs the paths of the few categories movies are in, not
    of a whole tree that may have 100,000 nodes. A category whose way up never reaches a root (a
    cycle made by hand) gets no rows, and its walk stops at the first repeat.
    """
    start = select(
        Category.id.label("id"),
        Category.id.label("ancestor"),
        Category.parent_id.label("parent_id"),
        array([Category.id]).label("path"),
    ).where(Category.id.in_(members))
    up = start.cte("up", recursive=True)
    step = (
        select(up.c.id, Category.id, Category.parent_id, func.array_append(up.c.path, Category.id))
        .join(up, Category.id == up.c.parent_id)
        .where(func.array_position(up.c.path, Category.id).is_(None))
    )
    up = up.union_all(step)
    rooted = select(up.c.id).where(up.c.parent_id.is_(None))
    return select(up.c.id, up.c.ancestor).where(up.c.id.in_(rooted)).cte("ancestry")


def category_counts(
    tenant: str, conditions: list[ColumnElement[bool]] = (), sets: dict[tuple[int, ...], int] | None = None
) -> Select:
    """(category_id, movie_count, total_count) of one tenant's movies, in one statement.

    `movie_count`: movies in the category itself; `total_count`: distinct movies in its subtree.
    With `conditions` (MovieFilters'), only the matching movies count. Movies share a few hundred
    genre lists, and so sets of categories: the movies are counted per genre list, and the roll-up
    to the ancestors works on the sets, not on a million movies: each set adds its movies once to
    every category on its members' paths.
    """
    if sets is None:
        movies = Movie.__table__
        # The generated column, not `data -> 'genre_keys'`: the read indexes carry it, so the
        # matching movies are counted from an index alone, never read from the table.
        genre_keys = movies.c.genre_keys
        per_list = (
            select(genre_keys.label("keys"), func.count().label("movies"))
            .where(movies.c.tenant == tenant, *conditions)
            .group_by(genre_keys)
            .subquery("per_list")
        )
        cats = literal_column(category_set_sql("per_list.keys"), ARRAY(Integer)).label("cats")
        per_set = select(cats, per_list.c.movies).subquery("per_set")
        movie_sets = (
            select(per_set.c.cats, cast(func.sum(per_set.c.movies), BigInteger).label("movies"))
            .where(func.cardinality(per_set.c.cats) > 0)
            .group_by(per_set.c.cats)
            .cte("movie_sets")
        )
    else:  # counted by the parsers: the movies need not be read again
        given = (
            func.jsonb_to_recordset(cast([{"cats": list(c), "movies": n} for c, n in sets.items()], JSONB))
            .table_valued(column("cats", ARRAY(Integer)), column("movies", BigInteger))
            .render_derived("given", with_types=True)
        )
        movie_sets = select(given.c.cats, given.c.movies).cte("movie_sets")
    member = func.unnest(movie_sets.c.cats).table_valued("member").render_derived("members")
    above = ancestry(select(func.unnest(movie_sets.c.cats)))
    # Each set once per category on its members' ways up: a hash join, then DISTINCT.
    pairs = (
        select(movie_sets.c.cats, movie_sets.c.movies, above.c.ancestor)
        .select_from(movie_sets)
        .join(member, true())
        .join(above, above.c.id == member.c.member)
        .distinct()
        .cte("pairs")
    )
    own = pairs.c.ancestor == any_(pairs.c.cats)
    return select(
        pairs.c.ancestor.label("category_id"),
        cast(func.coalesce(func.sum(pairs.c.movies).filter(own), 0), Integer).label("movie_count"),
        cast(func.sum(pairs.c.movies), Integer).label("total_count"),
    ).group_by(pairs.c.ancestor)


def counts_insert(tenant: str, sets: dict[tuple[int, ...], int] | None = None):
    """INSERT the tenant's counts into category_counts (its rows deleted first by the caller)."""
    counts = category_counts(tenant, sets=sets).subquery()
    rows = select(literal(tenant), counts.c.category_id, counts.c.movie_count, counts.c.total_count)
    table = CategoryCount.__table__
    return insert(table).from_select(["tenant", "category_id", "movie_count", "total_count"], rows)
