"""Facet counts of a filtered listing (per genre, year, rating bucket, runtime limit) in one query."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.selectable import CTE, NamedFromClause

from ...models import GenreName
from .ordering import GENRE_KEYS_SQL, RATING, RUNTIME, YEAR

# Buckets are [from, to) by whole points; ratings run from 0 to 10, and 10 counts in the 9–10 bucket.
TOP_RATING_BUCKET = 9
# The runtime facet counts the movies of "runtime at most n minutes" (`runtime_lte=n`) for each n.
RUNTIME_LIMITS = (30, 60, 90, 120, 150, 180)

GENRE_KEYS = literal_column(GENRE_KEYS_SQL, type_=JSONB)
# grouping(genre_keys, year, rating, runtime) of each grouping set: a bit for each key left out.
FACET_OF_GROUPING = {0b0111: "genre", 0b1011: "year", 0b1101: "rating", 0b1110: "runtime"}


def facets_statement(movies: NamedFromClause, conditions: Sequence[ColumnElement[bool]], tenant: str) -> Select:
    """(facet, value, label, count) rows: one `total`, one per genre, year, rating bucket and
    runtime bucket (the smallest of RUNTIME_LIMITS a runtime is at most).

    Every key it counts by is a column the read indexes carry (migration 0013), so the matching
    movies are counted from an index alone, in one pass that groups them by each key in turn
    (grouping sets). Genres are counted by movies' lists of genre keys first (a catalog has a few
    hundred), then by key, and named by the tenant's spelling (genre_names, written by imports).
    """
    rating = case((RATING < 0, null()), else_=func.least(func.floor(RATING), TOP_RATING_BUCKET))
    # The first limit that holds wins; the `runtime_lte` filter is `runtime BETWEEN 0 AND n`.
    runtime = case(*((RUNTIME.between(0, limit), limit) for limit in RUNTIME_LIMITS), else_=null())
    keyed = (
        select(GENRE_KEYS.label("genre_keys"), YEAR.label("year"), rating.label("rating"), runtime.label("runtime"))
        .select_from(movies)
        .where(*conditions)
        .subquery("keyed")
    )
    keys = (keyed.c.genre_keys, keyed.c.year, keyed.c.rating, keyed.c.runtime)
    counted = (
        select(
            case(FACET_OF_GROUPING, value=func.grouping(*keys), else_="total").label("facet"),
            *keys,
            func.count().label("movies"),
        )
        .group_by(func.grouping_sets(*(tuple_(key) for key in keys), tuple_()))
        .cte("counted")
    )
    values = func.coalesce(cast(counted.c.year, Text), cast(counted.c.rating, Text), cast(counted.c.runtime, Text))
    return (
        select(counted.c.facet, values, null(), counted.c.movies)
        .where(counted.c.facet != "genre")
        .union_all(_genre_counts(counted, tenant))
    )


def _genre_counts(counted: CTE, tenant: str) -> Select:
    """Per genre, by the key the `genre` filter matches (so each count equals that listing's). The
    one place that says where a movie's genres are counted."""
    element = func.jsonb_array_elements(counted.c.genre_keys).table_valued("value").lateral("element")
    key = element.c.value.op("#>>")(literal_column("'{}'")).label("key")
    names = GenreName.__table__
    named = and_(names.c.tenant == literal(tenant), names.c.key == key)
    return (
        select(literal("genre"), key, func.coalesce(names.c.name, key), cast(func.sum(counted.c.movies), BigInteger))
        .select_from(counted.join(element, literal(True)).outerjoin(names, named))
        # An explicit category's key ends genre_keys (an object): not a genre.
        .where(counted.c.facet == "genre", func.jsonb_typeof(element.c.value) != "object")
        .group_by(key, names.c.name)
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
