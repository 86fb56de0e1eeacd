"""Invalidation on write, and the races it allows under concurrent writers.

Explicit readers and writers interleaving in simulated time.
With ``delete`` a reader that missed and read the old row can store it after the
writer's delete: the cache keeps the old value until the TTL or the next write (the
paper's stale set); a lease (a token the cache hands out on a miss and voids on a delete)
makes that late set fail. With ``update`` two writers' cache sets can arrive in the
opposite order of their commits. ``write-through`` serialises each key's database write,
cache write and demand fills under one lock, and no read is stale.

A read is *stale* when it returns an older version than the newest write that had already
finished (committed and invalidated or updated the cache) when the read began; a write still
in progress may or may not be seen. Units: seconds (``*_s``) or milliseconds (``*_ms``),
rates per second.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from scalekit import _check, _html
from scalekit.caching.serverside.common import INVALIDATIONS

__all__ = ["InvalidationRace", "invalidation_race", "INVALIDATIONS"]


# --------------------------------------------------------------------------- races


@dataclass(frozen=True, eq=False, repr=False)
class InvalidationRace(_html.ScalarTable):
    """One seeded interleaving of readers and writers (see :func:`invalidation_race`).

    ``reads`` completed, of which ``stale_reads`` (share ``stale_share``) returned a version
    older than the newest write finished when the read began; ``writes`` completed;
    ``db_reads``; ``failed_sets`` (demand fills refused because a delete voided their
    lease); ``stale_entry_s``: total time (summed over keys) the cache held a value older
    than the newest finished write, in ``stale_windows`` separate spells, the longest
    ``longest_stale_s``."""

    strategy: str
    leases: bool
    ttl_s: float | None
    duration_s: float
    reads: int
    stale_reads: int
    stale_share: float
    writes: int
    db_reads: int
    failed_sets: int
    stale_entry_s: float
    stale_windows: int
    longest_stale_s: float


class _Lock:
    def __init__(self):
        self.holder = None
        self.waiters: deque = deque()


class _Race:
    """The event loop (a heap of generators, each yielding a delay in seconds or a
    :class:`_Lock` to wait for) and the shared state: the database's versions, the cache
    (version, expiry) per key, leases, and the stale-window bookkeeping."""

    def __init__(self, strategy, leases, ttl, keys, db_s, cache_s, lease_wait_s, rng):
        self.strategy, self.leases, self.ttl = strategy, leases, ttl
        self.db_s, self.cache_s, self.lease_wait_s, self.rng = db_s, cache_s, lease_wait_s, rng
        self.now = 0.0
        self.heap: list = []
        self.n = 0
        self.db = [0] * keys  # committed version per key
        self.done = [0] * keys  # newest finished write per key
        self.cache: dict[int, tuple] = {}  # key -> (version, expires_at)
        self.lease: dict[int, int] = {}  # key -> outstanding token
        self.tokens = 0
        self.locks = [_Lock() for _ in range(keys)]
        self.window: dict[int, tuple] = {}  # key -> (since, entry) of an open stale spell
        self.spells: list[float] = []
        self.reads = self.stale_reads = self.writes = self.db_reads = self.failed_sets = 0

    # the loop
    def start(self, gen):
        self._push(0.0, gen)

    def _push(self, at, gen):
        self.n += 1
        heapq.heappush(self.heap, (at, self.n, gen))

    def run(self, until):
        while self.heap and self.heap[0][0] <= until:
            self.now, _, gen = heapq.heappop(self.heap)
            cmd = next(gen)
            if isinstance(cmd, _Lock):
                if cmd.holder is None:
                    cmd.holder = gen
                    self._push(self.now, gen)
                else:
                    cmd.waiters.append(gen)
            else:
                self._push(self.now + cmd, gen)
        for key in list(self.window):
            self._close(key, until)

    def release(self, lock):
        lock.holder = lock.waiters.popleft() if lock.waiters else None
        if lock.holder is not None:
            self._push(self.now, lock.holder)

    # stale spells: the cache holds a version older than the newest finished write
    def _mark(self, key):
        entry = self.cache.get(key)
        live = entry is not None and entry[1] > self.now and entry[0] < self.done[key]
        open_ = self.window.get(key)
        if open_ is not None and not (live and open_[1] is entry):
            self._close(key, self.now)
            open_ = None
        if live and open_ is None:
            self.window[key] = (self.now, entry)

    def _close(self, key, now):
        since, entry = self.window.pop(key)
        end = min(now, entry[1])
        if end > since:
            self.spells.append(end - since)

    # operations: each takes a random time and acts at its midpoint
    def _op(self, mean):
        return self.rng.exponential(mean) / 2

    def cache_get(self, key):
        """(version or None, token or None): a hit, a miss with a lease, or a hot miss."""
        yield self._op(self.cache_s)
        entry = self.cache.get(key)
        result = (None, None)
        if entry is not None and entry[1] <= self.now:
            del self.cache[key]
            entry = None
        if entry is not None:
            result = (entry[0], None)
        elif not self.leases:
            result = (None, 0)
        elif key not in self.lease:
            self.tokens += 1
            self.lease[key] = self.tokens
            result = (None, self.tokens)
        yield self._op(self.cache_s)
        return result

    def cache_set(self, key, version, token=0):
        yield self._op(self.cache_s)
        if self.leases and token:
            if self.lease.get(key) != token:
                self.failed_sets += 1
                yield self._op(self.cache_s)
                return
            del self.lease[key]
        self.cache[key] = (version, self.now + self.ttl)
        self._mark(key)
        yield self._op(self.cache_s)

    def cache_delete(self, key):
        yield self._op(self.cache_s)
        self.cache.pop(key, None)
        self.lease.pop(key, None)  # a delete voids the outstanding lease
        self._mark(key)
        yield self._op(self.cache_s)

    def db_read(self, key):
        yield self._op(self.db_s)
        version = self.db[key]
        self.db_reads += 1
        yield self._op(self.db_s)
        return version

    def db_write(self, key):
        yield self._op(self.db_s)
        self.db[key] += 1
        version = self.db[key]
        yield self._op(self.db_s)
        return version

    # clients
    def read(self, key):
        while True:
            version, token = yield from self.cache_get(key)
            if version is not None:
                return version
            if self.strategy == "write-through":
                lock = self.locks[key]
                yield lock
                version = yield from self.db_read(key)
                yield from self.cache_set(key, version)
                self.release(lock)
                return version
            if token is None:  # another client holds the lease: wait, then look again
                yield self.rng.exponential(self.lease_wait_s)
                continue
            version = yield from self.db_read(key)
            yield from self.cache_set(key, version, token)
            return version

    def reader(self, keys, think_s):
        while True:
            yield self.rng.exponential(think_s)
            key = int(self.rng.integers(keys))
            floor = self.done[key]
            version = yield from self.read(key)
            self.reads += 1
            self.stale_reads += version < floor

    def writer(self, keys, think_s):
        while True:
            yield self.rng.exponential(think_s)
            key = int(self.rng.integers(keys))
            lock = self.locks[key] if self.strategy == "write-through" else None
            if lock is not None:
                yield lock
            version = yield from self.db_write(key)
            if self.strategy == "delete":
                yield from self.cache_delete(key)
            else:
                yield from self.cache_set(key, version)
            if lock is not None:
                self.release(lock)
            self.writes += 1
            self.done[key] = max(self.done[key], version)
            self._mark(key)


def invalidation_race(strategy: str = "delete", *, readers: int = 8, writers: int = 2,
                      keys: int = 1, leases: bool = False, ttl_s: float | None = None,
                      read_think_ms: float = 10.0, write_think_ms: float = 100.0,
                      db_ms: float = 5.0, cache_ms: float = 0.5, lease_wait_ms: float = 2.0,
                      duration_s: float = 10.0, seed: int | None = 0) -> InvalidationRace:
    """Readers and writers of ``keys`` keys interleaving for ``duration_s`` simulated
    seconds. Each client thinks for an exponential time (mean ``read_think_ms`` or
    ``write_think_ms``), then reads (cache-aside) or writes a random key; every database
    and cache operation takes an exponential time (mean ``db_ms``, ``cache_ms``) and acts
    at its midpoint. ``strategy``: ``"delete"`` the cached copy after the database write,
    ``"update"`` it to the written version, or ``"write-through"`` (the key's lock held
    around the write and around every demand fill). ``leases`` (with ``"delete"`` only):
    a miss gets a token if none is outstanding, others wait ``lease_wait_ms`` (mean) and
    look again; a delete voids the token, so a late fill fails. ``ttl_s``: cached copies
    expire (None: never)."""
    how = _check.choice("strategy", strategy, INVALIDATIONS)
    lease = _check.boolean("leases", leases)
    if lease and how != "delete":
        raise ValueError(f"leases work with strategy='delete' (a delete voids the lease), "
                         f"not {how!r}")
    n_r = _check.integer("readers", readers, low=0, high=1000)
    n_w = _check.integer("writers", writers, low=0, high=1000)
    k = _check.integer("keys", keys, low=1, high=100_000)
    ttl = math.inf if ttl_s is None else _check.positive("ttl_s", ttl_s)
    think_r = _check.positive("read_think_ms", read_think_ms) / 1000
    think_w = _check.positive("write_think_ms", write_think_ms) / 1000
    db = _check.positive("db_ms", db_ms) / 1000
    cache = _check.positive("cache_ms", cache_ms) / 1000
    wait = _check.positive("lease_wait_ms", lease_wait_ms) / 1000
    dur = _check.positive("duration_s", duration_s)
    work = (n_r / think_r + n_w / think_w) * dur
    if work > 1_000_000:
        raise ValueError(f"about {work:,.0f} client operations: over 1,000,000, so fewer "
                         f"clients, longer think times or a shorter duration_s")
    race = _Race(how, lease, ttl, k, db, cache, wait, np.random.default_rng(_check.seed(seed)))
    for _ in range(n_r):
        race.start(race.reader(k, think_r))
    for _ in range(n_w):
        race.start(race.writer(k, think_w))
    race.run(dur)
    spells = race.spells
    return InvalidationRace(
        strategy=how, leases=lease, ttl_s=ttl_s if ttl_s is None else ttl, duration_s=dur,
        reads=race.reads, stale_reads=race.stale_reads,
        stale_share=race.stale_reads / race.reads if race.reads else 0.0,
        writes=race.writes, db_reads=race.db_reads, failed_sets=race.failed_sets,
        stale_entry_s=float(sum(spells)), stale_windows=len(spells),
        longest_stale_s=float(max(spells, default=0.0)))
