"""Accent- and case-insensitive text for sorting and searching titles, computed when a row is imported.

Pure (no database): the parser processes call `search_fields` for every row. The texts are stored
in the movie's data and indexed by migration 0004: computing them here, in parallel with COPY, is
cheaper than calling `unaccent()` (which PostgreSQL cannot index directly) while building indexes.
"""

import re
import unicodedata
from typing import Any

# Keys added to a movie's data; the API never shows them (see schemas.movie_json).
SORT_TITLE = "sort_title"
SEARCH_TITLE = "search_title"
SEARCH_BODY = "search_body"
DERIVED_KEYS = (SORT_TITLE, SEARCH_TITLE, SEARCH_BODY)

MAX_QUERY_WORDS = 8
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """'Hài Hước' → 'hai huoc': casefolded, accents stripped, đ → d, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.split())


def search_fields(data: dict[str, Any]) -> dict[str, str]:
    """The derived texts of one movie: its sort title, its searchable titles and overview."""
    title = fold(data.get("movie_name") or "")
    original = fold(data.get("original_title") or "")
    return {
        SORT_TITLE: title,
        SEARCH_TITLE: f"{title} {original}" if original and original != title else title,
        SEARCH_BODY: fold(data.get("overview") or ""),
    }


def query_words(q: str) -> list[str]:
    """The words of a search, folded like the stored texts."""
    return _WORD.findall(fold(q))[:MAX_QUERY_WORDS]


def tsquery_text(words: list[str]) -> str:
    """Every word must match; the last one as a prefix, for type-ahead ('stran' finds 'stranger').

    Words are `\\w+` only, so nothing in them is tsquery syntax; quoted anyway.
    """
    terms = [f"'{word}'" for word in words]
    terms[-1] += ":*"
    return " & ".join(terms)
