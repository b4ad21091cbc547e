"""A page of search results by relevance, read without ranking every match.

Relevance puts a search's matches in three tiers:

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

Tier 1 does not test the search GIN's words: a title's words are among them (search.search_texts).
"""

from ..search import prefix_end, title_prefix
from .ordering import SEARCH_VECTOR_SQL, TITLE_SQL, TITLE_WORDS_SQL, Bind, tsquery_sql

# The key of each tier, as text compared byte by byte: '0' and the folded title, then '1', then '2'.
TIER_KEYS = {"0": f"('0' || {TITLE_SQL}) COLLATE \"C\"", "1": "'1'::text COLLATE \"C\"", "2": "'2'::text COLLATE \"C\""}


def relevance_page_sql(
    others: list[str], query_text: str, bind: Bind, *, limit: int, offset: int = 0, after: tuple = ()
) -> str:
    """The page's movies (tenant, tmdb_id, data, sort_key) by relevance: `others`, the listing's
    other conditions; `after`, the (key, tmdb_id) the previous page ended at."""
    query = tsquery_sql(bind(query_text))
    matches = f"{SEARCH_VECTOR_SQL} @@ {query}"
    # Tier 0 tests the words as a function, which no index answers: a title that begins with them
    # has them, so the test filters almost nothing, and must not tempt the planner into ANDing the
    # title range with the search GIN (it misjudges a prefix's matches, and its bitmap and sort
    # cost a hundred times the ordered range read: docs/performance.md). ts_match_vq is the @@
    # operator's function.
    typed_words = f"ts_match_vq({SEARCH_VECTOR_SQL}, {query})"
    in_titles = f"{TITLE_WORDS_SQL} @@ {query}"
    starts = _title_starts_with(query_text, bind)
    first_tier = after[0][:1] if after else "0"

    def tier(key: str, conditions: list[str], ordering: str) -> str:
        return (
            f"(SELECT movies.tenant, movies.tmdb_id, movies.data, {TIER_KEYS[key]} AS sort_key FROM movies"
            f" WHERE {' AND '.join([*others, *conditions])} ORDER BY {ordering} LIMIT {limit + offset})"
        )

    def after_id(key: str) -> list[str]:
        return [f"movies.tmdb_id > {bind(after[1])}"] if after and first_tier == key else []

    tiers = []
    if first_tier == "0":
        typed = [starts, typed_words]
        if after:
            typed.append(f"({TITLE_SQL}, movies.tmdb_id) > ({bind(after[0][1:])}, {bind(after[1])})")
        tiers.append(tier("0", typed, f"{TITLE_SQL}, movies.tmdb_id"))
    if first_tier <= "1":
        tiers.append(tier("1", [in_titles, f"NOT {starts}", *after_id("1")], "movies.tmdb_id"))
    tiers.append(tier("2", [matches, f"NOT {in_titles}", f"NOT {starts}", *after_id("2")], "movies.tmdb_id"))
    # No ORDER BY outside: the tiers' order is the Append's (an ORDER BY would read every tier).
    return f"SELECT * FROM ({' UNION ALL '.join(tiers)}) AS tiers LIMIT {limit} OFFSET {offset}"


def _title_starts_with(query_text: str, bind: Bind) -> str:
    """The folded title begins with the search's words as typed: a range of the title btree."""
    prefix = title_prefix(query_text)
    end = prefix_end(prefix)
    return "false" if end is None else f"({TITLE_SQL} >= {bind(prefix)} AND {TITLE_SQL} < {bind(end)})"
