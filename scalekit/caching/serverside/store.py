"""An in-process key/value cache that evicts like Redis: its eight ``maxmemory-policy`` names,
exact or sampled LRU/LFU, and per-key TTLs.

The real mechanism. A Redis server with ``maxmemory`` set must make room when it is full
and a write arrives. ``maxmemory-policy`` says how (https://redis.io/docs/latest/develop/
reference/eviction/):

* ``noeviction`` (Redis's default) refuses the write — the client gets
  ``OOM command not allowed when used memory > 'maxmemory'``; here :class:`CacheFull`;
* ``allkeys-lru`` / ``allkeys-lfu`` / ``allkeys-random`` evict the least recently used, the
  least frequently used, or a random key among all keys;
* ``volatile-lru`` / ``volatile-lfu`` / ``volatile-random`` / ``volatile-ttl`` do the same,
  or evict the key closest to expiring, but only among keys that have a TTL; when no key has
  one, Redis behaves like ``noeviction`` — here :class:`CacheFull` again.

Redis does not keep an exact LRU list: it samples ``maxmemory-samples`` keys (default 5) and
evicts the best of them (Redis 3.0 adds a 16-entry pool of good candidates across rounds,
which this model leaves out). ``samples=None`` here gives the exact policy, ``samples=5``
Redis's approximation. LFU in Redis (4.0+) is a Morris-style logarithmic counter in 8 bits:
a new key starts at 5, an access increments a counter ``c`` with probability
``1 / ((c − 5)·lfu_log_factor + 1)`` (factor 10), and the counter decays by one every
``lfu-decay-time`` minutes (1) without access. The sampled LFU here uses that counter, read
from the injected clock; the exact LFU keeps a true access count per key (ties go to the
least recently used key) and remembers the counts of keys that were evicted or deleted, so
a popular key comes back with its history (a "perfect" LFU: it keeps the C most requested
keys; its memory grows with the number of distinct keys seen). An in-cache LFU that forgot
them would freeze: every newcomer, at count 1, would be the next victim, and a popular key
that lost its place could never win it back — Redis's decay and its new keys starting at 5
are its answer to the same problem.

Capacity counts keys, not bytes. Expired keys are removed lazily, as Redis does: a read of
an expired key is a miss and removes it; and before evicting a live key to make room, keys
whose TTL has passed are dropped first (Redis's active expiry would have found them). Time
comes from ``clock`` (seconds), so a simulation can run the cache on simulated time.

One file of about 530 lines: the store and its eviction policies (Redis's names) share the
entry bookkeeping and the sampled-eviction loop; split, each policy would reach into the
store's private state.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from scalekit import _check, _html

__all__ = ["Cache", "CacheFull", "CacheStats", "POLICIES", "MAX_CAPACITY",
           "LFU_INIT", "LFU_LOG_FACTOR", "LFU_DECAY_S"]

POLICIES = ("noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru",
            "volatile-lfu", "volatile-random", "volatile-ttl")
MAX_CAPACITY = 100_000_000
LFU_INIT = 5  # Redis LFU_INIT_VAL: a new key's counter
LFU_LOG_FACTOR = 10  # Redis lfu-log-factor
LFU_DECAY_S = 60.0  # Redis lfu-decay-time: 1 minute per decrement
_LFU_MAX = 255
_INF = math.inf


class NotCached(KeyError, ValueError):
    """:meth:`Cache.ttl` of a key that is not cached: a KeyError (as a dict's) and a
    ValueError naming ``key``."""

    def __str__(self) -> str:
        return str(self.args[0])


def _key(key) -> None:
    """A cache key: any hashable value but None and NaN (Redis keys are strings; the models
    use ints and strs)."""
    if key is None:
        raise TypeError("key must be a hashable value (a str or an int), got None")
    try:
        hash(key)
    except TypeError:
        raise TypeError(f"key must be a hashable value (a str or an int), got "
                        f"{type(key).__name__}") from None
    if isinstance(key, float) and key != key:
        raise ValueError("key must not be NaN (NaN equals nothing, not even itself)")


class CacheFull(RuntimeError):
    """A write needed room and the policy may not evict (Redis: ``OOM command not allowed
    when used memory > 'maxmemory'``). ``policy`` and ``capacity`` say why."""

    def __init__(self, message: str, *, policy: str, capacity: int):
        super().__init__(message)
        self.policy = policy
        self.capacity = capacity


@dataclass(frozen=True, eq=False, repr=False)
class CacheStats(_html.ScalarTable):
    """Counters since the cache was made: ``hits`` and ``misses`` of :meth:`Cache.get`
    (an expired key is a miss), ``evictions`` (keys removed to make room), ``expirations``
    (keys removed because their TTL passed) and ``hit_ratio`` = hits / (hits + misses)."""

    hits: int
    misses: int
    evictions: int
    expirations: int
    hit_ratio: float


# --------------------------------------------------------------------------- trackers
# A tracker keeps the eviction candidates (all keys, or the keys with a TTL) and makes one
# decision, ``victim()``. ``touch`` is called on every access of a candidate.


class _Lru:
    def __init__(self):
        self.order: OrderedDict = OrderedDict()

    def add(self, key, now):
        self.order[key] = None

    def remove(self, key):
        del self.order[key]

    def touch(self, key, now):
        self.order.move_to_end(key)

    def victim(self):
        return next(iter(self.order))

    def __len__(self):
        return len(self.order)


class _Lfu:
    """Exact ("perfect") LFU in O(1): one insertion-ordered bucket of keys per access
    count; the counts of keys that left the cache are remembered in ``history``."""

    def __init__(self):
        self.count: dict = {}
        self.history: dict = {}
        self.buckets: dict[int, OrderedDict] = {}
        self.low = 1

    def add(self, key, now):
        c = self.history.pop(key, 0) + 1
        self.count[key] = c
        self.buckets.setdefault(c, OrderedDict())[key] = None
        self.low = min(self.low, c) if len(self.count) > 1 else c

    def remove(self, key):
        c = self.count.pop(key)
        self.history[key] = c
        bucket = self.buckets[c]
        del bucket[key]
        if not bucket:
            del self.buckets[c]

    def touch(self, key, now):
        c = self.count[key]
        bucket = self.buckets[c]
        del bucket[key]
        if not bucket:
            del self.buckets[c]
            if self.low == c:
                self.low = c + 1
        self.count[key] = c + 1
        self.buckets.setdefault(c + 1, OrderedDict())[key] = None

    def victim(self):
        if self.low not in self.buckets:  # a remove emptied the lowest bucket
            self.low = min(self.buckets)
        return next(iter(self.buckets[self.low]))

    def __len__(self):
        return len(self.count)


class _Indexed:
    """Keys in a list (and their positions) so that one can be drawn at random in O(1)."""

    def __init__(self, rng: random.Random):
        self.keys: list = []
        self.pos: dict = {}
        self.rng = rng

    def add(self, key, now):
        self.pos[key] = len(self.keys)
        self.keys.append(key)

    def remove(self, key):
        i = self.pos.pop(key)
        last = self.keys.pop()
        if i < len(self.keys):
            self.keys[i] = last
            self.pos[last] = i

    def touch(self, key, now):
        pass

    def sample(self, k):
        n = len(self.keys)
        if k >= n:
            return list(self.keys)
        return [self.keys[i] for i in self.rng.sample(range(n), k)]

    def victim(self):
        return self.keys[self.rng.randrange(len(self.keys))]

    def __len__(self):
        return len(self.keys)


class _SampledLru(_Indexed):
    """Redis's approximated LRU: the least recently used of ``k`` sampled keys."""

    def __init__(self, rng, k):
        super().__init__(rng)
        self.k = k
        self.tick = 0
        self.used: dict = {}

    def add(self, key, now):
        super().add(key, now)
        self.touch(key, now)

    def remove(self, key):
        super().remove(key)
        del self.used[key]

    def touch(self, key, now):
        self.tick += 1
        self.used[key] = self.tick

    def victim(self):
        return min(self.sample(self.k), key=self.used.__getitem__)


class _SampledLfu(_Indexed):
    """Redis's LFU: a logarithmic 8-bit counter with decay, the lowest of ``k`` samples."""

    def __init__(self, rng, k):
        super().__init__(rng)
        self.k = k
        self.counter: dict = {}
        self.decayed_at: dict = {}

    def add(self, key, now):
        super().add(key, now)
        self.counter[key] = LFU_INIT
        self.decayed_at[key] = now

    def remove(self, key):
        super().remove(key)
        del self.counter[key]
        del self.decayed_at[key]

    def _current(self, key, now):
        periods = int((now - self.decayed_at[key]) // LFU_DECAY_S)
        if periods > 0:
            self.counter[key] = max(0, self.counter[key] - periods)
            self.decayed_at[key] += periods * LFU_DECAY_S
        return self.counter[key]

    def touch(self, key, now):
        c = self._current(key, now)
        if c < _LFU_MAX and self.rng.random() < 1.0 / (max(0, c - LFU_INIT)
                                                       * LFU_LOG_FACTOR + 1):
            self.counter[key] = c + 1

    def victim(self):
        now = self.now
        return min(self.sample(self.k), key=lambda key: self._current(key, now))


class _SampledTtl(_Indexed):
    """Redis's volatile-ttl: the sampled key closest to expiring."""

    def __init__(self, rng, k, expires):
        super().__init__(rng)
        self.k = k
        self.expires = expires

    def victim(self):
        return min(self.sample(self.k), key=self.expires.__getitem__)


class _Ttl:
    """Exact volatile-ttl: a heap of (expiry, order, key), stale entries skipped lazily."""

    def __init__(self, expires):
        self.expires = expires
        self.heap: list = []
        self.live: set = set()
        self.n = 0

    def add(self, key, now):
        self.live.add(key)
        self.n += 1
        heapq.heappush(self.heap, (self.expires[key], self.n, key))

    def remove(self, key):
        self.live.discard(key)

    def touch(self, key, now):
        pass

    def victim(self):
        while True:
            at, _, key = self.heap[0]
            if key in self.live and self.expires.get(key) == at:
                return key
            heapq.heappop(self.heap)

    def __len__(self):
        return len(self.live)


# --------------------------------------------------------------------------- the cache


class Cache:
    """A cache of at most ``capacity`` keys that evicts by ``policy`` (one of
    :data:`POLICIES`; see the module).

    ``samples``: None for the exact LRU/LFU/TTL choice, or k ≥ 1 to evict the best of k
    randomly sampled candidates as Redis does (``maxmemory-samples``, default 5 there).
    ``default_ttl_s``: the TTL (seconds) of a :meth:`set` that gives none; None = no expiry.
    ``clock``: returns the time in seconds (default :func:`time.monotonic`); ``seed`` seeds
    the random choices (random eviction, sampling, the LFU counter's coin flips).
    """

    def __init__(self, capacity: int, policy: str = "allkeys-lru", *,
                 clock: Callable[[], float] = time.monotonic,
                 default_ttl_s: float | None = None, samples: int | None = None,
                 seed: int | None = 0):
        self.capacity = _check.integer("capacity", capacity, low=1, high=MAX_CAPACITY)
        self.policy = _check.choice("policy", policy, POLICIES)
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, got {clock!r}")
        self.default_ttl_s = (None if default_ttl_s is None
                              else _check.positive("default_ttl_s", default_ttl_s))
        self.samples = None if samples is None else _check.integer("samples", samples, low=1)
        self.seed = _check.seed(seed)
        self._clock = clock
        self._rng = random.Random(self.seed)
        self._data: dict = OrderedDict() if self._exact_lru else {}
        self._expires: dict = {}  # key -> expiry instant (s), only keys with a TTL
        self._expiry_heap: list = []
        self._pushed = 0
        self._volatile = self.policy.startswith("volatile-")
        self._tracker = self._make_tracker()
        self._hits = self._misses = self._evictions = self._expirations = 0

    @property
    def _exact_lru(self) -> bool:
        return self.policy == "allkeys-lru" and self.samples is None

    def _make_tracker(self):
        kind = self.policy.split("-")[-1]
        k = self.samples
        if kind == "noeviction" or self._exact_lru:
            return None  # nothing to choose, or the data's own order is the LRU list
        if kind == "random":
            return _Indexed(self._rng)
        if kind == "ttl":
            return _Ttl(self._expires) if k is None else _SampledTtl(self._rng, k,
                                                                     self._expires)
        if kind == "lru":
            return _Lru() if k is None else _SampledLru(self._rng, k)
        return _Lfu() if k is None else _SampledLfu(self._rng, k)

    # ---------------------------------------------------------------- reading

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value cached for ``key`` (a hit), or ``default`` (a miss: absent or expired;
        an expired key is removed)."""
        try:
            value = self._data[key]
        except KeyError:
            _key(key)
            self._misses += 1
            return default
        except TypeError:
            _key(key)
            raise
        if self._expires and key in self._expires:
            now = self._clock()
            if self._expires[key] <= now:
                self._remove(key)
                self._expirations += 1
                self._misses += 1
                return default
        else:
            now = None
        if self._tracker is None:
            if self._exact_lru:
                self._data.move_to_end(key)
        elif not self._volatile or key in self._expires:
            self._tracker.touch(key, self._clock() if now is None else now)
        self._hits += 1
        return value

    def __contains__(self, key: Hashable) -> bool:
        """Whether ``key`` is cached and unexpired (counts neither a hit nor a miss)."""
        if key not in self._data:
            return False
        at = self._expires.get(key)
        return at is None or at > self._clock()

    def __len__(self) -> int:
        """Keys held, counting expired keys not yet removed (as Redis's DBSIZE does)."""
        return len(self._data)

    def ttl(self, key: Hashable) -> float | None:
        """Seconds until ``key`` expires, or None if it has no TTL; KeyError if it is not
        cached (or has expired)."""
        _key(key)
        if key not in self:
            raise NotCached(f"key {key!r} is not cached (or has expired)")
        at = self._expires.get(key)
        return None if at is None else at - self._clock()

    @property
    def stats(self) -> CacheStats:
        total = self._hits + self._misses
        return CacheStats(hits=self._hits, misses=self._misses, evictions=self._evictions,
                          expirations=self._expirations,
                          hit_ratio=self._hits / total if total else 0.0)

    # ---------------------------------------------------------------- writing

    def set(self, key: Hashable, value: Any, ttl_s: float | None = None) -> None:
        """Cache ``value`` under ``key`` for ``ttl_s`` seconds (None: ``default_ttl_s``,
        which may be None = no expiry). Setting a key replaces its value and its TTL, and
        counts as an access. A new key in a full cache evicts one by the policy, or raises
        :class:`CacheFull` when the policy may not."""
        _key(key)
        if ttl_s is None:
            ttl_s = self.default_ttl_s
        else:
            ttl_s = _check.positive("ttl_s", ttl_s)
        now = self._clock() if (ttl_s is not None or self._expires
                                or self._tracker is not None) else 0.0
        data = self._data
        tracker = self._tracker
        if key in data:  # an update: keep the key's history, as Redis does
            was_candidate = tracker is not None and (not self._volatile
                                                     or key in self._expires)
            if was_candidate and self._volatile and ttl_s is None:
                tracker.remove(key)  # a SET without a TTL makes the key persistent
            if self._exact_lru:
                data.move_to_end(key)
        else:
            was_candidate = False
            if len(data) >= self.capacity:
                self._make_room(now)
        data[key] = value
        self._expires.pop(key, None)
        if ttl_s is not None:
            at = now + ttl_s
            self._expires[key] = at
            self._pushed += 1
            heapq.heappush(self._expiry_heap, (at, self._pushed, key))
        if tracker is None:
            return
        if was_candidate and (not self._volatile or ttl_s is not None):
            if isinstance(tracker, _Ttl):
                tracker.add(key, now)  # a new heap entry for the new expiry
            else:
                tracker.touch(key, now)
        elif not was_candidate and (not self._volatile or ttl_s is not None):
            if isinstance(tracker, _SampledLfu):
                tracker.now = now
            tracker.add(key, now)

    def delete(self, key: Hashable) -> bool:
        """Remove ``key``; True if it was cached (expired or not)."""
        _key(key)
        if key not in self._data:
            return False
        self._remove(key)
        return True

    def clear(self) -> None:
        """Remove every key (the statistics are kept, as Redis's FLUSHALL keeps INFO's)."""
        self._data.clear()
        self._expires.clear()
        self._expiry_heap.clear()
        self._tracker = self._make_tracker()

    def _remove(self, key) -> None:
        del self._data[key]
        if self._tracker is not None and (not self._volatile or key in self._expires):
            self._tracker.remove(key)
        self._expires.pop(key, None)

    def _purge_expired(self, now: float) -> None:
        heap = self._expiry_heap
        while heap and heap[0][0] <= now:
            at, _, key = heapq.heappop(heap)
            if self._expires.get(key) == at:
                self._remove(key)
                self._expirations += 1

    def _make_room(self, now: float) -> None:
        if self._expiry_heap:
            self._purge_expired(now)
            if len(self._data) < self.capacity:
                return
        if self._exact_lru:
            self._remove(next(iter(self._data)))
            self._evictions += 1
            return
        tracker = self._tracker
        if tracker is None or len(tracker) == 0:
            why = ("the policy is noeviction" if tracker is None
                   else f"no key has a TTL for {self.policy} to evict")
            raise CacheFull(f"cache full ({self.capacity} keys) and {why}: command not "
                            f"allowed when used memory > 'maxmemory'",
                            policy=self.policy, capacity=self.capacity)
        if isinstance(tracker, _SampledLfu):
            tracker.now = now
        self._remove(tracker.victim())
        self._evictions += 1

    def __repr__(self) -> str:
        return (f"Cache(capacity={self.capacity}, policy={self.policy!r}, "
                f"samples={self.samples}, keys={len(self._data)})")
