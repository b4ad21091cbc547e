"""The catalog's columns, as the CSV names them and as the stored movie data keys them, and the
ranges a valid value lies in: shared by the import, the export and the read filters."""

# CSV header → key in the stored movie data (and the API field of the same name).
COLUMNS = {
    "Movie Name": "movie_name",
    "Movie Link": "movie_link",
    "Fshare Link": "fshare_link",
    "Original Title": "original_title",
    "Genre": "genre",
    "Year": "year",
    "Runtime": "runtime",
    "Rating": "rating",
    "Overview": "overview",
    "Poster URL": "poster_url",
    "Backdrop URL": "backdrop_url",
    "TMDB ID": "tmdb_id",
    "Category ID": "category_id",
}
REQUIRED_COLUMNS = ("Movie Name", "TMDB ID")
# The original catalog's columns, in its order; an export adds the optional ones after them.
SEED_COLUMNS = tuple(column for column in COLUMNS if column != "Category ID")

YEAR_RANGE = (1870, 2100)
RUNTIME_RANGE = (1, 6000)
MAX_TMDB_ID = 2**63 - 1


def digits_in_range(digits: str, low: int, high: int) -> bool:
    """Compare without int() on absurdly long strings, which Python refuses to convert."""
    return len(digits) <= 32 and low <= int(digits) <= high


def tmdb_id_from_text(value: str) -> int | None:
    """The TMDB id written in `value`, or None when it is not a positive whole number that fits."""
    if value.isascii() and value.isdigit() and digits_in_range(value, 1, MAX_TMDB_ID):
        return int(value)
    return None
