"""Accent- and case-insensitive texts for sorting and searching, computed when a row is imported.

Pure (no database): the parser processes call `search_texts` for every row, beside COPY. The
texts are stored in columns of their own beside the movie's data (migration 0010) and indexed. The
searchable words are written in tsvector's input form, unquoted and unsorted (`bong ma bong`:
PostgreSQL sorts them and drops repeats as it reads them), so no text parser runs at import or at
index time (`to_tsvector` over a million overviews took 16 s of a 40 s index build), and
`unaccent()`, which cannot be indexed, is never needed.
"""

import re
import unicodedata
from collections.abc import Callable
from typing import Any

# The columns the texts are stored in (before migration 0010: keys of the movie's data).
SORT_TITLE = "sort_title"
TITLE_WORDS = "title_words"  # the words of both titles: a subset of SEARCH_WORDS (relevance.py relies on it)
SEARCH_WORDS = "search_words"
DERIVED_KEYS = (SORT_TITLE, TITLE_WORDS, SEARCH_WORDS)
# (sort title, title words, search words), in DERIVED_KEYS' order.
SearchTexts = tuple[str, str, str]

MAX_QUERY_WORDS = 8
# A one-letter prefix matches a good part of the vocabulary: the index would merge most of its lists.
MIN_PREFIX_CHARS = 2
MAX_WORD_CHARS = 100  # a tsvector lexeme holds at most 2 KB; longer "words" are not words
# Letters and digits: nothing in a word is tsvector syntax (no space, quote, backslash or colon),
# so the words need no quoting.
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """'Hài Hước' → 'hai huoc': casefolded, accents stripped, đ → d, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.split())


class _Memo(dict):
    """`function`'s results by argument, each computed once, emptied when it holds `size` of them.

    A hit is one dict lookup in C, cheaper than functools.lru_cache's (it keeps no recency list):
    the parser looks up every word of every row, about 35 a row.
    """

    def __init__(self, function: Callable[[str], Any], size: int) -> None:
        super().__init__()
        self.function = function
        self.size = size

    def __missing__(self, key: str) -> Any:
        if len(self) >= self.size:
            self.clear()
        value = self[key] = self.function(key)
        return value


def _piece_words(piece: str) -> str:
    """Text between spaces, as written ('"Huế,') → its folded words, space-separated ('hue'; '' if none)."""
    return " ".join(word for word in _WORD.findall(fold(piece)) if len(word) <= MAX_WORD_CHARS)


# Per distinct piece and title: text repeats its words, and a catalog its titles.
_words = _Memo(_piece_words, 1 << 17).__getitem__


def _folded_title(title: str) -> tuple[str, str]:
    """A title → its folded text and that text's words."""
    folded = fold(title)
    return folded, " ".join(map(_words, folded.split()))


_title = _Memo(_folded_title, 1 << 16).__getitem__


def search_texts(data: dict[str, Any]) -> SearchTexts:
    """The derived texts of one movie: its sort title, the words of its titles, and all its words.

    The words as tsvector input, repeats and stray spaces included (the cast drops them)."""
    title, title_words = _title(data.get("movie_name") or "")
    _, original_words = _title(data.get("original_title") or "")
    in_titles = f"{title_words} {original_words}"
    # Split on spaces only (fast); each piece, punctuation and all, is folded and split once.
    overview_words = " ".join(map(_words, (data.get("overview") or "").split()))
    return title, in_titles, f"{in_titles} {overview_words}"


def search_fields(data: dict[str, Any]) -> dict[str, str]:
    """The texts by name: as migrations 0004 and 0007 stored them in the movie's data."""
    return dict(zip(DERIVED_KEYS, search_texts(data), strict=True))


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


def title_prefix(query_text: str) -> str:
    """The words of a tsquery text (tsquery_text) as a folded title that starts with them begins:
    `'nguoi' & 'gac' & 'song':*` → 'nguoi gac song'."""
    return " ".join(_QUERY_WORD.findall(query_text))


def prefix_end(prefix: str) -> str | None:
    """The first text after every text that starts with `prefix`, compared code point by code
    point (as COLLATE "C" compares UTF-8): 'nguoi gac song' → 'nguoi gac sonh'. None: no such text."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are no text
        last = 0xE000
    return prefix[:-1] + chr(last) if last <= 0x10FFFF else None


_QUERY_WORD = re.compile(r"'([^']+)'")
