from typing import Literal

from pydantic import BaseModel, Field

from ..models import Movie


class MovieRead(BaseModel):
    """A movie as the API shows it: the seed's fields first, then the ones added since."""

    movie_name: str
    movie_link: str | None = None
    fshare_link: str | None = None
    original_title: str | None = None
    genre: str | None = Field(None, description="The Genre cell as written in the CSV")
    year: int | None = None
    runtime: str | None = Field(None, description="The Runtime cell as written, e.g. '64 phút/tập'")
    rating: float | None = None
    overview: str | None = None
    poster_url: str | None = None
    backdrop_url: str | None = None
    tmdb_id: str
    category_id: int | None = None
    genres: list[str] = Field(default_factory=list, description="`genre` split into names")
    runtime_minutes: int | None = None
    runtime_per_episode: bool | None = Field(None, description="True when the runtime is per episode")
    extra: dict[str, str | None] = Field(default_factory=dict, description="CSV columns beyond the seed's")

    @classmethod
    def from_movie(cls, movie: Movie) -> "MovieRead":
        return cls.model_validate({**movie.data, "tmdb_id": str(movie.tmdb_id)})


class ReloadResult(BaseModel):
    tenant: str
    loaded: int = Field(description="Movies the tenant holds now")
    source: Literal["upload", "default"] = Field(description="An uploaded file or the tenant's default CSV")
    elapsed_ms: float
