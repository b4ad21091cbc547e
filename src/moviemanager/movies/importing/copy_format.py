"""Movie rows in COPY's text format, as the parser processes write them and bulk.copy sends them.

Kept apart from the database code so the parser processes start without importing SQLAlchemy.
"""

import hashlib
from typing import Any

import orjson

from ..search import DERIVED_KEYS, SearchTexts

COPY_COLUMNS = ["tenant", "tmdb_id", "checksum", "data", *DERIVED_KEYS]

# COPY's text format gives these a meaning; folded text never holds the last three (fold keeps
# single spaces only), but a title may hold a backslash.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_line(tenant: bytes, tmdb_id: int, data: dict[str, Any], texts: SearchTexts) -> bytes:
    """One row of COPY's text format: tenant, id, checksum, the document, its search texts.

    The checksum covers the document and the texts: a reload rewrites a movie whose texts a new
    release folds differently, even if its document is unchanged."""
    document = orjson.dumps(data)
    sort_title, title_words, search_words = texts
    # Printable (the usual case): only backslashes need doubling.
    sort_title = sort_title.replace("\\", "\\\\") if sort_title.isprintable() else sort_title.translate(_COPY_ESCAPES)
    # The words are letters, digits and spaces (search._WORD): nothing to escape.
    searched = f"\t{sort_title}\t{title_words}\t{search_words}\n".encode()
    checksum = int.from_bytes(hashlib.blake2b(document + searched, digest_size=8).digest(), "big", signed=True)
    # JSON escapes tabs and line breaks inside strings; COPY then only needs backslashes doubled.
    return b"%s\t%d\t%d\t%s%s" % (tenant, tmdb_id, checksum, document.replace(b"\\", b"\\\\"), searched)
