from pydantic import BaseModel, ConfigDict, Field


class CategoryNode(BaseModel):
    id: int
    name: str
    movie_count: int | None = Field(None, description="With a tenant: movies in this category itself, by genre")
    total_count: int | None = Field(None, description="With a tenant: distinct movies in this category's subtree")
    subcategories: list["CategoryNode"] = Field(default_factory=list)


class CategoryRead(BaseModel):
    id: int
    name: str
    parent_id: int | None


# A name a person can read: no control characters (PostgreSQL text cannot hold NUL at all).
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"


class CategoryCreate(BaseModel):
    model_config = ConfigDict(strict=True)  # `"parent_id": true` is not category 1, nor "1" a number

    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)
    parent_id: int | None = Field(None, ge=1, le=2**31 - 1, description="Unset or null: a root category")


class CategoryChange(BaseModel):
    """Rename, move (re-parent), or both; `parent_id: null` makes the category a root."""

    model_config = ConfigDict(strict=True)

    name: str | None = Field(None, min_length=1, max_length=200, pattern=NAME_PATTERN)
    parent_id: int | None = Field(None, ge=1, le=2**31 - 1)


class GenreRead(BaseModel):
    id: int
    name_en: str
    name_vi: str
    movie_count: int | None = Field(None, description="With a tenant: its movies of this genre")
