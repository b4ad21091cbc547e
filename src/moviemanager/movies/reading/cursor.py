"""Opaque, signed keyset cursors: where a page ended, bound to the listing it came from.

A cursor is base64url(JSON [scope, key, tmdb_id]) + "." + base64url(HMAC-SHA256 tag, 16 bytes).
The scope is a digest of tenant, sort and filters: a cursor replayed on another listing, edited,
or signed with another secret is refused (400) rather than silently paging something else.
It holds no data version: keyset positions stay meaningful across reloads (no row is skipped
or repeated relative to the key), so a client mid-walk keeps going after any reload.
"""

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request

from ...config import Settings
from ...errors import InvalidCursor

TAG_BYTES = 16
SECRET_FILE = "cursor-secret"


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, scope: str, key: Any, tmdb_id: int) -> str:
        payload = orjson.dumps([_digest(scope), key, tmdb_id])
        return f"{_b64(payload)}.{_b64(self._tag(payload))}"

    def decode(self, cursor: str, scope: str) -> tuple[Any, int]:
        """(key, tmdb_id) of a cursor this listing issued; InvalidCursor otherwise."""
        try:
            encoded_payload, encoded_tag = cursor.split(".")
            payload, tag = _unb64(encoded_payload), _unb64(encoded_tag)
        except (ValueError, binascii.Error):
            raise InvalidCursor("cursor is malformed; use the Link rel=next of a previous page") from None
        if not hmac.compare_digest(tag, self._tag(payload)):
            raise InvalidCursor("cursor is not one this service issued (altered, or signed with another secret)")
        cursor_scope, key, tmdb_id = orjson.loads(payload)
        if cursor_scope != _digest(scope):
            raise InvalidCursor("cursor belongs to another listing: tenant, sort and filters must stay the same")
        return key, tmdb_id

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:TAG_BYTES]


def secret_from(configured: str | None, data_dir: Path) -> bytes:
    """The configured secret, or one generated once per data directory (shared by its workers)."""
    if configured:
        return configured.encode()
    path = data_dir.expanduser() / SECRET_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_suffix(f".{os.getpid()}")
    candidate.write_bytes(secrets.token_bytes(32))
    candidate.chmod(0o600)
    try:
        os.link(candidate, path)  # first writer wins; concurrent workers then read the same secret
    except FileExistsError:
        pass
    finally:
        candidate.unlink()
    return path.read_bytes()


def _digest(scope: str) -> str:
    return hashlib.blake2b(scope.encode(), digest_size=8).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def cursor_codec(request: Request) -> CursorCodec:
    """The app's cursor signer, made on first use (it may create the secret file)."""
    state = request.app.state
    if getattr(state, "cursors", None) is None:
        settings: Settings = state.settings
        configured = settings.cursor_secret.get_secret_value() if settings.cursor_secret else None
        state.cursors = CursorCodec(secret_from(configured, settings.data_dir))
    return state.cursors
