"""Accent- and case-insensitive texts for sorting and searching, computed when a row is imported.

Pure (no database): the parser processes call `search_fields` for every row, beside COPY. The
texts are stored in the movie's data and indexed by migration 0004. The searchable words are
stored in tsvector's input format ('bong' 'ma' …), so the index casts them instead of running
PostgreSQL's text parser (`to_tsvector` over a million overviews took 16 s of a 40 s index
build), and `unaccent()`, which cannot be indexed, is never needed.
"""

import functools
import re
import unicodedata
from typing import Any

# Keys added to a movie's data; the API never shows them (see schemas.movie_json).
SORT_TITLE = "sort_title"
SEARCH_TITLE = "search_title"
SEARCH_WORDS = "search_words"
DERIVED_KEYS = (SORT_TITLE, SEARCH_TITLE, SEARCH_WORDS)

MAX_QUERY_WORDS = 8
# A one-letter prefix matches a good part of the vocabulary: the index would merge most of its lists.
MIN_PREFIX_CHARS = 2
MAX_WORD_CHARS = 100  # a tsvector lexeme holds at most 2 KB; longer "words" are not words
_WORD = re.compile(r"[^\W_]+")  # letters and digits: nothing in a word is tsvector syntax


def fold(text: str) -> str:
    """'Hài Hước' → 'hai huoc': casefolded, accents stripped, đ → d, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.split())


# Folding runs for every word of every imported row: per distinct word, cached (text repeats words).
@functools.lru_cache(maxsize=1 << 16)
def _fold_title(title: str) -> str:
    return fold(title)


@functools.lru_cache(maxsize=1 << 17)
def _lexemes(piece: str) -> tuple[str, ...]:
    """Text between spaces, as written ('"Huế,') → its folded words as tsvector lexemes ("'hue'",)."""
    return tuple(f"'{word}'" for word in _WORD.findall(fold(piece)) if len(word) <= MAX_WORD_CHARS)


def search_fields(data: dict[str, Any]) -> dict[str, str]:
    """The derived texts of one movie: its sort title, its searchable titles, and its words."""
    title = _fold_title(data.get("movie_name") or "")
    original = _fold_title(data.get("original_title") or "")
    titles = f"{title} {original}" if original and original != title else title
    # Split on spaces only (fast); each piece, punctuation and all, is folded and split once.
    pieces = f"{titles} {data.get('overview') or ''}".split()
    lexemes = set().union(*map(_lexemes, pieces))
    return {SORT_TITLE: title, SEARCH_TITLE: titles, SEARCH_WORDS: " ".join(sorted(lexemes))}


def query_words(q: str) -> list[str]:
    """The words of a search, folded like the stored ones. A last word of one letter after others
    is left out (type-ahead has just begun a word, and as a prefix it would match most words)."""
    words = [word for word in _WORD.findall(fold(q)) if len(word) <= MAX_WORD_CHARS][:MAX_QUERY_WORDS]
    if len(words) > 1 and len(words[-1]) < MIN_PREFIX_CHARS:
        words.pop()
    return words


def tsquery_text(words: list[str]) -> str:
    """tsquery input: every word must match, the last as a prefix (type-ahead: 'stran' finds 'stranger')."""
    terms = [f"'{word}'" for word in words]
    if len(words[-1]) >= MIN_PREFIX_CHARS:
        terms[-1] += ":*"
    return " & ".join(terms)
