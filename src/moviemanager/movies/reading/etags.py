"""Conditional GETs: ETags derived from the tenant's data version and the request.

The data version changes on every successful reload (movies/importing/importer.py), so an ETag stays valid
exactly as long as the data behind it; checking one reads the `tenants` row only.
"""

import hashlib
import uuid
from dataclasses import dataclass

from starlette.types import Scope

# Caches may store a response but must revalidate it every time (cheap: a 304 reads no movie).
CACHE_CONTROL = "private, no-cache"
# The tenant may come from this header, the genres' language from the other; a shared cache must key on both.
VARY = "X-Tenant, Accept-Language"


@dataclass(frozen=True)
class Conditional:
    """What a GET's ETag depends on besides the data: the tenant, path and parameters; and the
    client's If-None-Match."""

    request_key: str
    if_none_match: str | None = None

    def etag(self, data_version: uuid.UUID) -> str:
        digest = hashlib.blake2b(f"{data_version}|{self.request_key}".encode(), digest_size=12).hexdigest()
        return f'"{digest}"'

    def not_modified(self, etag: str) -> bool:
        """RFC 9110 weak comparison: W/ prefixes ignored, `*` matches any current representation."""
        if not self.if_none_match:
            return False
        candidates = (tag.strip().removeprefix("W/") for tag in self.if_none_match.split(","))
        return any(tag in (etag, "*") for tag in candidates)


class NotModified(Exception):
    """The client's copy is current: answer 304 with this ETag."""

    def __init__(self, etag: str) -> None:
        super().__init__(etag)
        self.etag = etag


def request_key(tenant: str, path: str, query: list[tuple[str, str]], language: str | None = None) -> str:
    """Equal for requests that must get the same body; the parameters' order does not matter."""
    pairs = sorted((name, value) for name, value in query if name != "tenant")
    return f"{tenant}|{language}|{path}|{pairs!r}"


def request_conditional(scope: Scope, query: list[tuple[str, str]], tenant: str, language: str | None) -> Conditional:
    """A GET's Conditional, from its ASGI scope and its parameters as Starlette parses them. The
    routes and the answers from memory (cached_answers.py) both build it here: their keys must agree."""
    # The scope's path, not the URL: building the URL would be a noticeable part of a 304's cost.
    key = request_key(tenant, scope["path"], query, language)
    return Conditional(key, first_header(scope, b"if-none-match"))


def first_header(scope: Scope, name: bytes) -> str | None:
    """The first value of a header (lowercase `name`), as Starlette's Headers.get reads it."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
