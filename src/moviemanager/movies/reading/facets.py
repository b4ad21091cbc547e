"""Facet counts of a filtered listing (per genre, year, rating bucket, runtime limit) in one query."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, case, cast, func, literal, null, select, union_all
from sqlalchemy.sql.selectable import CTE, NamedFromClause

from .ordering import RATING, RUNTIME, YEAR

# Buckets are [from, to) by whole points; ratings run from 0 to 10, and 10 counts in the 9–10 bucket.
TOP_RATING_BUCKET = 9
# The runtime facet counts the movies of "runtime at most n minutes" (`runtime_lte=n`) for each n.
RUNTIME_LIMITS = (30, 60, 90, 120, 150, 180)


def facets_statement(movies: NamedFromClause, conditions: Sequence[ColumnElement[bool]]) -> Select:
    """(facet, value, label, count) rows: one `total`, one per genre, year, rating bucket and
    runtime bucket (the smallest of RUNTIME_LIMITS a runtime is at most).

    The matching movies are read once (a materialised CTE); each facet groups them.
    """
    matched = (
        select(movies.c.data.label("data"), YEAR.label("year"), RATING.label("rating"), RUNTIME.label("runtime"))
        .where(*conditions)
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )
    bucket = case((matched.c.rating < 0, null()), else_=func.least(func.floor(matched.c.rating), TOP_RATING_BUCKET))
    # The first limit that holds wins; the `runtime_lte` filter is `runtime BETWEEN 0 AND n`.
    runtime = case(*((matched.c.runtime.between(0, limit), limit) for limit in RUNTIME_LIMITS), else_=null())
    return union_all(
        select(literal("total"), null(), null(), func.count()).select_from(matched),
        _genre_counts(matched),
        select(literal("year"), cast(matched.c.year, Text), null(), func.count()).group_by(matched.c.year),
        select(literal("rating"), cast(bucket, Text), null(), func.count()).group_by(bucket),
        select(literal("runtime"), cast(runtime, Text), null(), func.count()).group_by(runtime),
    )


def _genre_counts(matched: CTE) -> Select:
    """Per genre, by the key the `genre` filter matches (so each count equals that listing's),
    named by the first spelling in the tenant. The one place that says where a movie's genres are."""
    # Two set-returning functions in one select list run in lockstep: each key beside its name.
    genre = select(
        func.jsonb_array_elements_text(matched.c.data.op("->")("genre_keys")).label("key"),
        func.jsonb_array_elements_text(matched.c.data.op("->")("genres")).label("name"),
    ).subquery("genre")
    # An explicit category's key ends genre_keys with no name beside it: not a genre.
    named = genre.c.name.is_not(None)
    return (
        select(literal("genre"), genre.c.key, func.min(genre.c.name), func.count()).where(named).group_by(genre.c.key)
    )


def facet_body(rows: Sequence[tuple[str, Any, Any, int]]) -> dict[str, Any]:
    """The rows of facets_statement as the API shows them."""
    body: dict[str, Any] = {"total": 0, "genres": [], "years": [], "ratings": []}
    runtimes: dict[int, int] = {}
    for facet, value, label, count in rows:
        if facet == "total":
            body["total"] = count
        elif facet == "genre":
            body["genres"].append({"key": value, "name": label, "count": count})
        elif facet == "year":
            body["years"].append({"year": int(value) or None, "count": count})
        elif facet == "runtime":
            if value is not None:
                runtimes[int(value)] = count
        else:
            low = None if value is None else int(value)
            high = None if low is None else low + 1
            body["ratings"].append({"from": low, "to": high, "count": count})
    body["genres"].sort(key=lambda genre: (-genre["count"], genre["key"]))
    body["years"].sort(key=lambda year: year["year"] or 0)
    body["ratings"].sort(key=lambda rating: -1 if rating["from"] is None else rating["from"])
    # Cumulative: "at most 90" counts the movies of the 30, 60 and 90 buckets.
    body["runtimes"] = [
        {"at_most": limit, "count": sum(count for bucket, count in runtimes.items() if bucket <= limit)}
        for limit in RUNTIME_LIMITS
    ]
    return body
