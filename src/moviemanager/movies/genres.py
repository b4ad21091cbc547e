"""Genre names as written in catalogs, the canonical (TMDB) genres, and the key they are matched by.

CANONICAL_GENRES is the list migration 0003 seeded into the `genres` table (a test keeps the two
equal). The parser processes resolve names with it without a database connection.
"""

import functools
from dataclasses import dataclass
from typing import Literal

from .search import fold

Language = Literal["en", "vi"]


@dataclass(frozen=True)
class Genre:
    id: int
    name_en: str
    name_vi: str


# TMDB genre ids with TMDB's English and Vietnamese names. TMDB has no Vietnamese name for the TV
# genres (10759…10768) nor for TV Movie: their Vietnamese name is the English one.
CANONICAL_GENRES = (
    Genre(28, "Action", "Phim Hành Động"),
    Genre(12, "Adventure", "Phim Phiêu Lưu"),
    Genre(16, "Animation", "Phim Hoạt Hình"),
    Genre(35, "Comedy", "Phim Hài"),
    Genre(80, "Crime", "Phim Hình Sự"),
    Genre(99, "Documentary", "Phim Tài Liệu"),
    Genre(18, "Drama", "Phim Chính Kịch"),
    Genre(10751, "Family", "Phim Gia Đình"),
    Genre(14, "Fantasy", "Phim Giả Tượng"),
    Genre(36, "History", "Phim Lịch Sử"),
    Genre(27, "Horror", "Phim Kinh Dị"),
    Genre(10402, "Music", "Phim Nhạc"),
    Genre(9648, "Mystery", "Phim Bí Ẩn"),
    Genre(10749, "Romance", "Phim Lãng Mạn"),
    Genre(878, "Science Fiction", "Phim Khoa Học Viễn Tưởng"),
    Genre(10770, "TV Movie", "TV Movie"),
    Genre(53, "Thriller", "Phim Gây Cấn"),
    Genre(10752, "War", "Phim Chiến Tranh"),
    Genre(37, "Western", "Phim Miền Tây"),
    Genre(10759, "Action & Adventure", "Action & Adventure"),
    Genre(10762, "Kids", "Kids"),
    Genre(10763, "News", "News"),
    Genre(10764, "Reality", "Reality"),
    Genre(10765, "Sci-Fi & Fantasy", "Sci-Fi & Fantasy"),
    Genre(10766, "Soap", "Soap"),
    Genre(10767, "Talk", "Talk"),
    Genre(10768, "War & Politics", "War & Politics"),
)
GENRES_BY_ID = {genre.id: genre for genre in CANONICAL_GENRES}
VIETNAMESE_PREFIX = "phim "


def split_genres(cell: str) -> list[str]:
    """'Phim Hài, Phim Nhạc' → ['Phim Hài', 'Phim Nhạc'] (empty parts dropped, order kept)."""
    return [part.strip() for part in cell.split(",") if part.strip()]


@functools.lru_cache(maxsize=4096)  # catalogs repeat a few dozen names a million times
def genre_key(name: str) -> str:
    """Case- and accent-insensitive form: 'Phim Hài' and 'phim hai' share the key 'phim hai'."""
    return fold(name)


def _aliases() -> dict[str, int]:
    """Every key a genre is known by: its English and Vietnamese names, the latter also without 'Phim '."""
    aliases: dict[str, int] = {}
    for genre in CANONICAL_GENRES:
        vietnamese = genre_key(genre.name_vi)
        aliases[genre_key(genre.name_en)] = aliases[vietnamese] = genre.id
        aliases.setdefault(vietnamese.removeprefix(VIETNAMESE_PREFIX), genre.id)
    return aliases


ALIASES = _aliases()


def canonical_genre(name: str) -> int | None:
    """The canonical genre id that `name` (an id, or an English or Vietnamese name, any case or accents) means."""
    text = name.strip()
    if text.isascii() and text.isdigit():
        return int(text) if int(text) in GENRES_BY_ID else None
    return ALIASES.get(genre_key(text))


# genre_keys ends with {"category": id} for a movie whose CSV row names a Category ID: the GIN index
# on genre_keys then finds the movie by its explicit category as it does by a genre (see
# movies/category_counts.py). An object, so that no genre's id (a number) or key (a string) equals it.
EXPLICIT_CATEGORY_KEY = "category"


def genre_keys(names: list[str]) -> list[int | str]:
    """What a movie's genres are matched by: the canonical id of a known name, the key of an unknown one."""
    keys: list[int | str] = []
    for name in names:
        key = genre_key(name)
        keys.append(ALIASES.get(key, key))
    return keys


def preferred_language(accept_language: str | None) -> Language | None:
    """The first of 'vi' and 'en' an Accept-Language header asks for (by q-value), or None."""
    if not accept_language:
        return None
    choices: list[tuple[float, int, Language]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("vi", "en") and quality > 0:
            choices.append((-quality, position, primary))  # type: ignore[arg-type]
    return min(choices)[2] if choices else None
