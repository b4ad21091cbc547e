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


def tree_paths():
    """Every category reachable from a root, with the ids on its path from the root (a recursive CTE).

    A node has one parent, so a node reachable from a root is never in a cycle: this cannot loop,
    and a cycle made by hand is simply not reached.
    """
    roots = select(Category.id, array([Category.id]).label("path")).where(Category.parent_id.is_(None))
    paths = roots.cte("tree_paths", recursive=True)
    children = select(Category.id, func.array_append(paths.c.path, Category.id)).join(
        paths, Category.parent_id == paths.c.id
    )
    return paths.union_all(children)


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
    paths = tree_paths()
    ancestor = func.unnest(paths.c.path).table_valued("ancestor").render_derived("path_ids")
    # Each set once per category on its members' paths: a hash join with the tree, then DISTINCT.
    pairs = (
        select(movie_sets.c.cats, movie_sets.c.movies, ancestor.c.ancestor)
        .select_from(movie_sets)
        .join(member, true())
        .join(paths, paths.c.id == member.c.member)
        .join(ancestor, true())
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
