"""The derived search texts and the type-ahead range, without a database (movies/search.py)."""

import pytest

from moviemanager.movies.search import prefix_end, query_words, search_fields, title_prefix, tsquery_text

ROWS = [
    {"movie_name": "Người Gác Đèn: Sông Hương", "original_title": "The Keeper's Light", "overview": "Ông Tư, 70."},
    {"movie_name": "Đất Rừng", "original_title": None, "overview": None},
    {"movie_name": "x" * 150 + " Ma", "original_title": "Ma", "overview": "Ma ma."},
]


@pytest.mark.parametrize("row", ROWS)
def test_title_words_are_search_words(row):
    """Relevance's title tier trusts this: a movie whose title words match is a match."""
    fields = search_fields(row)
    assert set(fields["title_words"].split()) <= set(fields["search_words"].split())
    assert fields["title_words"] and "search_title" not in fields


def test_title_words_hold_both_titles_and_no_overview():
    fields = search_fields(ROWS[0])
    assert fields["title_words"] == "'den' 'gac' 'huong' 'keeper' 'light' 'nguoi' 's' 'song' 'the'"
    assert "'ong'" in fields["search_words"] and "'ong'" not in fields["title_words"]


# What the parser stored before its caches changed, for Unicode that folds in surprising ways:
# the stored texts (and so search results) must not change with the code that computes them.
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
def test_search_fields_fold_as_stored(row, expected):
    assert search_fields(row) == expected
    assert search_fields(dict(row)) == expected  # the second time from the caches


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
