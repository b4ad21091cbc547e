"""The derived search texts and the type-ahead range (movies/search.py); one test reads them with PostgreSQL."""

import pytest
from sqlalchemy import text

from moviemanager.movies.search import (
    DERIVED_KEYS,
    prefix_end,
    query_words,
    search_fields,
    search_texts,
    title_prefix,
    tsquery_text,
)

ROWS = [
    {"movie_name": "Người Gác Đèn: Sông Hương", "original_title": "The Keeper's Light", "overview": "Ông Tư, 70."},
    {"movie_name": "Đất Rừng", "original_title": None, "overview": None},
    {"movie_name": "x" * 150 + " Ma", "original_title": "Ma", "overview": "Ma ma."},
]


def lexemes(words: str) -> str:
    """tsvector input as PostgreSQL prints it back: each word once, sorted, quoted."""
    return " ".join(f"'{word}'" for word in sorted(set(words.split())))


@pytest.mark.parametrize("row", ROWS)
def test_title_words_are_search_words(row):
    """Relevance's title tier trusts this: a movie whose title words match is a match."""
    _, title_words, search_words = search_texts(row)
    assert set(title_words.split()) <= set(search_words.split())
    assert title_words.strip()


def test_title_words_hold_both_titles_and_no_overview():
    _, title_words, search_words = search_texts(ROWS[0])
    assert lexemes(title_words) == "'den' 'gac' 'huong' 'keeper' 'light' 'nguoi' 's' 'song' 'the'"
    assert "ong" in search_words.split() and "ong" not in title_words.split()


# What the parser stored before its caches changed, for Unicode that folds in surprising ways:
# the stored texts (and so search results) must not change with the code that computes them. The
# words as tsvector prints them (before migration 0010 they were stored so).
FOLDED = [
    (
        {
            "movie_name": "Huế 25℃",
            "original_title": "Hue\u0301: ĐÀ NẴNG",  # the accent as a combining mark
            "overview": 'ﬁlm ①, x² — Straße\u00a0İstanbul; "snake_case" 3D…',
        },
        {
            "sort_title": "hue 25°C",  # ℃ decomposes after casefolding: its C stays upper case here
            "title_words": "'25' 'c' 'da' 'hue' 'nang'",
            "search_words": "'1' '25' '3d' 'c' 'case' 'da' 'film' 'hue' 'istanbul' 'nang' 'snake' 'strasse' 'x2'",
        },
    ),
    (
        {
            "movie_name": "東京物語",
            "original_title": "Tōkyō Monogatari",
            "overview": "¨a b¨c zero\u200bwidth Москва ＡＢＣ",
        },
        {
            "sort_title": "東京物語",
            "title_words": "'monogatari' 'tokyo' '東京物語'",
            "search_words": "'a' 'abc' 'b' 'c' 'monogatari' 'tokyo' 'width' 'zero' 'москва' '東京物語'",
        },
    ),
    (
        {"movie_name": "---", "original_title": "", "overview": "x" * 101 + " " + "y" * 100},
        {"sort_title": "---", "title_words": "", "search_words": "'" + "y" * 100 + "'"},
    ),
]


@pytest.mark.parametrize(("row", "expected"), FOLDED)
def test_search_texts_fold_as_stored(row, expected):
    for texts in (search_texts(row), search_texts(dict(row))):  # the second time from the caches
        sort_title, title_words, search_words = texts
        assert (sort_title, lexemes(title_words), lexemes(search_words)) == tuple(expected.values())


def test_search_fields_name_the_texts():
    """As migrations 0004 and 0007 stored them in the data."""
    assert search_fields(ROWS[1]) == dict(zip(DERIVED_KEYS, search_texts(ROWS[1]), strict=True))
    assert search_fields(ROWS[1])["sort_title"] == "dat rung"


def test_title_prefix_is_the_typed_words():
    assert title_prefix(tsquery_text(query_words("Người gác  ĐÈN sông h"))) == "nguoi gac den song"
    assert title_prefix(tsquery_text(query_words("x"))) == "x"


@pytest.mark.parametrize(
    ("prefix", "end"),
    [("nguoi gac", "nguoi gad"), ("song 9", "song :"), ("ab\ud7ff", "ab\ue000"), ("a\U0010ffff", None)],
)
def test_prefix_end_bounds_every_text_that_starts_with_the_prefix(prefix, end):
    assert prefix_end(prefix) == end
    if end is not None:
        for text in (prefix, prefix + " z", prefix + "\U0010ffff"):
            assert prefix <= text < end


async def test_postgresql_reads_the_unquoted_words_as_the_quoted_ones(connection):
    """The words need no quoting (search._WORD): the cast gives the lexemes the stored form gave."""
    for row, expected in FOLDED:
        _, title_words, search_words = search_texts(row)
        for words, stored in ((title_words, expected["title_words"]), (search_words, expected["search_words"])):
            cast = text("SELECT CAST(CAST(:words AS tsvector) AS text)")
            assert await connection.scalar(cast, {"words": words}) == stored
