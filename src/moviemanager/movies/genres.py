"""Genre names as written in catalogs, and the key they are matched by."""

import functools
import unicodedata


def split_genres(cell: str) -> list[str]:
    """'Phim Hài, Phim Nhạc' → ['Phim Hài', 'Phim Nhạc'] (empty parts dropped, order kept)."""
    return [part.strip() for part in cell.split(",") if part.strip()]


@functools.lru_cache(maxsize=4096)  # catalogs repeat a few dozen names a million times
def genre_key(name: str) -> str:
    """Case- and accent-insensitive form: 'Phim Hài' and 'phim hai' share the key 'phim hai'."""
    decomposed = unicodedata.normalize("NFKD", name.casefold().replace("đ", "d"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.split())
