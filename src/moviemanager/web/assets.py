"""Static files under fingerprinted names (`app.3f9c1a2b4d.css`): the name changes with the content,
so a browser may keep each file for a year without ever asking again."""

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.responses import Response

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
DIGEST_CHARS = 10


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str


class Assets:
    """The files of a folder, read once, each under its fingerprinted name."""

    def __init__(self, folder: Path = STATIC_DIR) -> None:
        self._urls: dict[str, str] = {}
        self._files: dict[str, Asset] = {}
        for path in sorted(folder.iterdir()):
            if not path.is_file():
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:DIGEST_CHARS]
            fingerprinted = f"{path.stem}.{digest}{path.suffix}"
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if media_type.startswith("text/") or media_type == "application/javascript":
                media_type += "; charset=utf-8"
            self._urls[path.name] = PREFIX + fingerprinted
            self._files[fingerprinted] = Asset(body, media_type)

    def url(self, name: str) -> str:
        """The URL of static file `name` (KeyError for a file that does not exist: a template bug)."""
        return self._urls[name]

    def response(self, fingerprinted: str, *, head: bool = False) -> Response | None:
        """The file's response (for HEAD the same headers, no body); None for an unknown name."""
        asset = self._files.get(fingerprinted)
        if asset is None:
            return None
        headers = {
            "Cache-Control": IMMUTABLE,
            "X-Content-Type-Options": "nosniff",
            "Content-Length": str(len(asset.body)),
        }
        return Response(b"" if head else asset.body, media_type=asset.media_type, headers=headers)
