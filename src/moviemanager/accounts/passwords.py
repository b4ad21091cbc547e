"""Password hashing: Argon2id (argon2-cffi, RFC 9106's low-memory profile), off the event loop."""

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

hasher = PasswordHasher()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; without a hash (no such user), the same work against a dummy
    one, so that an unknown user takes as long to refuse as a wrong password."""
    return await asyncio.to_thread(_verify, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the hasher's own."""
    return hasher.check_needs_rehash(password_hash)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        matches = hasher.verify(password_hash or _dummy_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and password_hash is not None


@cache
def _dummy_hash(with_hasher: PasswordHasher) -> str:
    return with_hasher.hash("not anybody's password")
