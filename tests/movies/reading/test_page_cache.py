"""The page cache keeps bodies by ETag within its size, dropping the least recently used first."""

from moviemanager.movies.reading.page_cache import ENTRY_OVERHEAD_BYTES, PageCache


def test_keeps_bodies_within_its_size_and_evicts_the_least_recently_used():
    cache = PageCache(3 * (100 + ENTRY_OVERHEAD_BYTES))
    for etag in ("a", "b", "c"):
        cache.put(etag, etag * 100, 100)
    assert cache.get("a") == "a" * 100  # now the most recently used
    cache.put("d", "d" * 100, 100)
    assert cache.get("b") is None
    assert [cache.get(etag) is not None for etag in ("a", "c", "d")] == [True, True, True]


def test_a_body_larger_than_the_whole_cache_is_not_kept_and_size_zero_keeps_nothing():
    cache = PageCache(1000)
    cache.put("big", b"x" * 5000, 5000)
    assert cache.get("big") is None
    off = PageCache(0)
    assert not off.enabled
    off.put("a", b"a", 1)
    assert off.get("a") is None
