"""Movie rows in COPY's text format, as the parser processes write them and bulk.copy sends them.

Kept apart from the database code so the parser processes start without importing SQLAlchemy.
"""

import hashlib
from typing import Any

import orjson

COPY_COLUMNS = ["tenant", "tmdb_id", "checksum", "data"]


def copy_line(tenant: bytes, tmdb_id: int, data: dict[str, Any]) -> bytes:
    """One row of COPY's text format: tenant, id, checksum of the document, the document."""
    document = orjson.dumps(data)
    checksum = int.from_bytes(hashlib.blake2b(document, digest_size=8).digest(), "big", signed=True)
    # JSON escapes tabs and line breaks inside strings; COPY then only needs backslashes doubled.
    return b"%s\t%d\t%d\t%s\n" % (tenant, tmdb_id, checksum, document.replace(b"\\", b"\\\\"))
