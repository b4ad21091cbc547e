from pydantic import BaseModel, Field


class CategoryNode(BaseModel):
    id: int
    name: str
    subcategories: list["CategoryNode"] = Field(default_factory=list)
