"""Where an HTTP cache keeps its entries: by URL (the primary key, RFC 9111 §4.1), several
per URL when ``Vary`` tells responses apart, at most ``max_entries`` in all, the oldest
stored evicted first. Not thread-safe by itself: the cache calls it under its lock."""

from __future__ import annotations

from collections import OrderedDict

from scalekit.caching.http.entry import Entry, vary_matches
from scalekit.caching.http.messages import Request

__all__ = ["Store"]


class Store:
    """Entries by slot number and by URL (see the module)."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: OrderedDict[int, Entry] = OrderedDict()
        self._by_url: dict[str, list[int]] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: int) -> Entry | None:
        """The entry in slot ``key``, if it is still stored."""
        return self._entries.get(key)

    def count(self, url: str) -> int:
        """How many responses are stored for ``url``."""
        return len(self._by_url.get(url, ()))

    def select(self, request: Request) -> Entry | None:
        """The most recently stored response whose Vary fields match ``request`` (§4.1)."""
        for key in reversed(self._by_url.get(request.url, [])):
            entry = self._entries[key]
            if vary_matches(entry.vary, request):
                return entry
        return None

    def put(self, entry: Entry, request: Request) -> Entry:
        """Store ``entry`` in a new slot, replacing what ``request`` would have selected
        (§4.1), then evict; return the entry as stored."""
        for key in list(self._by_url.get(entry.url, [])):
            if vary_matches(self._entries[key].vary, request):
                self.remove(self._entries[key])
        key, self._next = self._next, self._next + 1
        stored = self._entries[key] = entry.with_key(key)
        self._by_url.setdefault(entry.url, []).append(key)
        while len(self._entries) > self.max_entries:
            self.remove(next(iter(self._entries.values())))
        return stored

    def swap(self, old: Entry, new: Entry) -> bool:
        """Put ``new`` in ``old``'s slot if ``old`` is still stored there."""
        if self._entries.get(old.key) is not old:
            return False
        self._entries[old.key] = new if new.key == old.key else new.with_key(old.key)
        return True

    def remove(self, entry: Entry) -> None:
        """Drop ``entry`` if it is still stored (no error if it was replaced or evicted)."""
        if self._entries.get(entry.key) is not entry:
            return
        del self._entries[entry.key]
        self._by_url[entry.url].remove(entry.key)
        if not self._by_url[entry.url]:
            del self._by_url[entry.url]

    def drop_url(self, url: str) -> bool:
        """Drop every response stored for ``url``; whether there was any."""
        keys = self._by_url.pop(url, None)
        for key in keys or ():
            del self._entries[key]
        return bool(keys)

    def snapshot(self) -> list[Entry]:
        """Every stored entry, oldest stored first."""
        return list(self._entries.values())

    def clear(self) -> None:
        self._entries.clear()
        self._by_url.clear()
