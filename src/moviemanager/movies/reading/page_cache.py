"""Pages of GET /movies, kept by ETag in the server's memory.

An ETag names the tenant's data version and the request (etags.Conditional), and the movies of
one data version never change (a reload, or a change to the category tree, makes a new version).
So a body found here is exactly what the query would return again: never stale, only evicted,
least recently used first, once the bodies kept pass the size limit.
"""

from collections import OrderedDict
from typing import Generic, TypeVar

Page = TypeVar("Page")
# What an entry costs besides its body: the key, the tuple, the dict's slot.
ENTRY_OVERHEAD_BYTES = 200


class PageCache(Generic[Page]):
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[Page, int]] = OrderedDict()
        self._bytes = 0
        # For the metrics: entries found, and bodies offered to keep (each read from the database).
        self.hits = 0
        self.misses = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def get(self, etag: str) -> Page | None:
        entry = self._entries.get(etag)
        if entry is None:
            return None
        self._entries.move_to_end(etag)
        self.hits += 1
        return entry[0]

    def put(self, etag: str, page: Page, body_bytes: int) -> None:
        size = body_bytes + ENTRY_OVERHEAD_BYTES
        self.misses += 1
        if size > self.max_bytes or etag in self._entries:
            return
        self._entries[etag] = (page, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._bytes -= evicted
