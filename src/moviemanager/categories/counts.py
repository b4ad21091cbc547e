"""Linking movies to categories and counting them per category: one definition, used by imports,
by category administration, by the report and by migration 0003b."""

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Integer,
    Select,
    and_,
    any_,
    cast,
    column,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, array
from sqlalchemy.sql.selectable import CTE

from ..models import Category, CategoryCount, Movie, movie_categories

# A movie's categories: those of its canonical genres (genre_keys holds their ids, see
# movies/genres.py). DISTINCT because two genres may share a category (Action, Action & Adventure).
LINKS_FROM_MOVIES = """
INSERT INTO {links} (tenant, tmdb_id, category_id)
SELECT DISTINCT movie.tenant, movie.tmdb_id, genre_categories.category_id
FROM {movies} AS movie
CROSS JOIN LATERAL jsonb_array_elements(movie.data -> 'genre_keys') AS genre(key)
JOIN genre_categories ON to_jsonb(genre_categories.genre_id) = genre.key
"""


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
    tenant: str,
    links: FromClause = movie_categories,
    conditions: list[ColumnElement[bool]] = (),
    sets: dict[tuple[int, ...], int] | None = None,
) -> Select:
    """(category_id, movie_count, total_count) of one tenant's movies, in one statement.

    `movie_count`: movies linked to the category itself; `total_count`: distinct movies in its
    subtree. With `conditions` (MovieFilters'), only the matching movies count. Movies share a few
    hundred sets of categories, so the roll-up to the ancestors works on those sets, not on a
    million movies: each set adds its movies once to every category on its members' paths.
    """
    per_movie = select(func.array_agg(links.c.category_id).label("cats")).where(links.c.tenant == tenant)
    if conditions:
        movies = Movie.__table__
        per_movie = per_movie.join_from(
            links, movies, and_(movies.c.tenant == links.c.tenant, movies.c.tmdb_id == links.c.tmdb_id)
        ).where(movies.c.tenant == tenant, *conditions)
    per_movie = per_movie.group_by(links.c.tmdb_id).cte("per_movie")
    movie_sets = select(per_movie.c.cats, func.count().label("movies")).group_by(per_movie.c.cats).cte("movie_sets")
    if sets is not None:  # tallied by the parsers: the links need not be read again
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


def counts_insert(tenant: str, links: FromClause = movie_categories, sets: dict[tuple[int, ...], int] | None = None):
    """INSERT the tenant's counts into category_counts (its rows deleted first by the caller)."""
    counts = category_counts(tenant, links, sets=sets).subquery()
    rows = select(literal(tenant), counts.c.category_id, counts.c.movie_count, counts.c.total_count)
    table = CategoryCount.__table__
    return insert(table).from_select(["tenant", "category_id", "movie_count", "total_count"], rows)
