from typing import Literal

from pydantic import BaseModel, Field

from ..errors import CsvProblemBody


class CategoryRef(BaseModel):
    id: int
    name: str


class MovieRead(BaseModel):
    """A movie as the API shows it: the seed's fields first, with the seed's JSON types (text
    fields are "" when the cell is empty; an unrated movie's rating is 0), then the ones added since."""

    movie_name: str
    movie_link: str = ""
    fshare_link: str = ""
    original_title: str = ""
    genre: str = Field("", description="The Genre cell as written in the CSV")
    year: int | None = None
    runtime: str | None = Field(None, description="The Runtime cell as written, e.g. '64 phút/tập'")
    rating: float = Field(0, description="0–10; 0 when the movie is unrated (see `rated`)")
    overview: str = ""
    poster_url: str = ""
    backdrop_url: str = ""
    tmdb_id: str
    category_id: int | None = Field(
        None, description="The category its CSV row names (`Category ID`), else its first category (lowest id)"
    )
    categories: list[CategoryRef] = Field(
        default_factory=list, description="Every category its genres and its `Category ID` put it in, by id"
    )
    rated: bool = Field(
        False,
        description="False when the Rating cell was empty: `rating` reads 0, yet rating filters never match"
        " the movie and sorting by rating puts it below every rated one",
    )
    genres: list[str] = Field(
        default_factory=list,
        description="`genre` split into names; with Accept-Language vi or en, canonical genres in that language",
    )
    runtime_minutes: int | None = None
    runtime_per_episode: bool | None = Field(None, description="True when the runtime is per episode")
    extra: dict[str, str | None] = Field(default_factory=dict, description="CSV columns beyond the seed's")


class GenreFacet(BaseModel):
    key: str = Field(description="The genre as the `genre` filter matches it (case and accents folded)")
    name: str = Field(description="The genre as first written in the tenant's catalog")
    count: int


class YearFacet(BaseModel):
    year: int | None = Field(description="null: movies without a year")
    count: int


class RatingFacet(BaseModel):
    from_: int | None = Field(alias="from", description="Bucket [from, to); 10 counts in 9–10; null: unrated")
    to: int | None
    count: int


class RuntimeFacet(BaseModel):
    at_most: int = Field(description="Minutes: the movies of `runtime_lte` at this value (30, 60, 90, 120, 150, 180)")
    count: int


class Facets(BaseModel):
    """Counts over the movies matching the filters; each equals the listing's with that filter added."""

    total: int
    genres: list[GenreFacet]
    years: list[YearFacet]
    ratings: list[RatingFacet]
    runtimes: list[RuntimeFacet] = Field(
        description="Cumulative: movies of runtime at most `at_most` minutes, one entry per limit, smallest first"
    )


class ImportReport(BaseModel):
    """What an import did (or, with dry_run, would do)."""

    tenant: str
    source: str = Field(description="'upload', 'default' (the tenant's default CSV), or the file the CLI read")
    mode: Literal["replace", "merge"]
    dry_run: bool = Field(description="True when nothing was written")
    loaded: int = Field(description="Valid movies taken from the file")
    inserted: int = Field(description="Movies whose TMDB id the tenant did not have")
    updated: int = Field(description="Movies whose data changed")
    deleted: int = Field(description="Movies removed because the file no longer has them (replace mode)")
    unchanged: int
    skipped: int = Field(description="Rows left out with on_error=skip: invalid, or repeating a TMDB id")
    total: int = Field(description="Movies the tenant holds after the import")
    elapsed_ms: float
    rows_per_second: int
    phases_ms: dict[str, float] = Field(description="Where the time went: parse_and_copy, primary_key, compare, …")
    error_count: int = Field(description="Problems found in skipped rows (all of them, even past the first 100)")
    errors: list[CsvProblemBody] = Field(description="The first 100 problems, by line")
    warning_count: int
    warnings: list[CsvProblemBody] = Field(description="The first 100 values read in a way the file may not mean")
