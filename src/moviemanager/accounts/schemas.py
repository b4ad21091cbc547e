from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$"
MIN_PASSWORD_LENGTH = 8
# Argon2 hashes any length; the cap bounds what one request can make the server read and hash.
MAX_PASSWORD_LENGTH = 1024

Username = Annotated[
    str,
    StringConstraints(pattern=USERNAME_PATTERN),
    Field(description="3 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", examples=["ann"]),
]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]


class UserCreate(BaseModel):
    username: Username
    email: EmailStr
    password: Password


class LoginRequest(BaseModel):
    # Any text PostgreSQL can hold (no NUL): a name that could not exist is refused like an
    # unknown one (401), not with a 422.
    username: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00]+$", examples=["ann"])]
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str
    is_active: bool
    created_at: datetime
    is_admin: bool
    tenants: list[str] = Field(description="The tenants the user may write (an admin writes every tenant)")
