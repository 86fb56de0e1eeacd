"""The Redis-like cache (scalekit.caching.serverside.store): every policy's contract, each policy's
eviction choice, TTLs on an injected clock, and the errors.

Sources: Redis's eviction docs (https://redis.io/docs/latest/develop/reference/eviction/):
the eight maxmemory-policy names, noeviction and volatile-* without TTL keys refuse writes
(OOM), LRU/LFU approximated from maxmemory-samples (5) keys; Redis's LFU counter
(a new key starts at 5, increments with probability 1/((c − 5)·10 + 1), decays by one per
minute). Random eviction picks each of the C keys with probability 1/C: a binomial count,
judged at Z = 4 standard errors (tests/_stats.py).
"""

import math
import random
import time

import pytest

from scalekit.caching.serverside import store
from scalekit.caching.serverside.store import Cache, CacheFull

from _stats import Z


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


EVICTING = [p for p in store.POLICIES if p != "noeviction"]


class TestEveryPolicy:
    """The same contract for every policy, exact and sampled."""

    @pytest.fixture(params=[(p, s) for p in EVICTING for s in (None, 5)],
                    ids=lambda ps: f"{ps[0]}-{ps[1]}")
    def make(self, request):
        policy, samples = request.param
        return lambda capacity, **kw: Cache(capacity, policy, samples=samples, **kw)

    def test_never_holds_more_than_capacity_and_never_returns_a_wrong_value(self, make):
        clock = Clock()
        cache = make(20, clock=clock, default_ttl_s=1000.0)
        truth = {}
        rng = random.Random(1)
        gets = 0
        for i in range(3000):
            key = rng.randrange(60)
            clock.now += 0.01
            if rng.random() < 0.4:
                cache.set(key, (key, i))
                truth[key] = (key, i)
            else:
                gets += 1
                got = cache.get(key)
                assert got is None or got == truth[key]
            assert len(cache) <= 20
        s = cache.stats
        assert s.evictions > 0 and s.hits > 0 and s.hits + s.misses == gets

    def test_a_value_just_set_is_a_hit(self, make):
        cache = make(3, default_ttl_s=60.0)
        for key in "abcdef":
            cache.set(key, key.upper())
            assert cache.get(key) == key.upper() and key in cache
        assert len(cache) == 3 and cache.stats.evictions == 3

    def test_updating_a_key_at_capacity_evicts_nothing(self, make):
        cache = make(2, default_ttl_s=60.0)
        cache.set("a", 1)
        cache.set("b", 2)
        cache.set("a", 3)
        assert cache.stats.evictions == 0 and cache.get("a") == 3 and cache.get("b") == 2


# --------------------------------------------------------------------------- choices


def test_lru_evicts_the_least_recently_used():
    cache = Cache(3, "allkeys-lru")
    for key in "abc":
        cache.set(key, key)
    cache.get("a")
    cache.set("d", "d")
    assert "b" not in cache and all(k in cache for k in "acd")
    cache.set("c", "c2")  # a set is an access too
    cache.set("e", "e")
    assert "a" not in cache and all(k in cache for k in "cde")


@pytest.mark.parametrize("samples", [None, 3])
def test_sampling_every_key_is_exact_lru(samples):
    """With at least as many samples as keys the sampled choice is the exact one."""
    exact, sampled = Cache(3, "allkeys-lru"), Cache(3, "allkeys-lru", samples=samples or 3)
    rng = random.Random(4)
    for _ in range(2000):
        key = rng.randrange(8)
        for cache in (exact, sampled):
            if cache.get(key) is None:
                cache.set(key, key)
    assert sorted(exact._data) == sorted(sampled._data)
    assert exact.stats.hits == sampled.stats.hits


def test_lfu_evicts_the_least_frequent_and_breaks_ties_by_recency():
    cache = Cache(3, "allkeys-lfu")
    for key in "abc":
        cache.set(key, key)
    for _ in range(3):
        cache.get("a")
    cache.get("c")  # b is now the least frequent (1 access)
    cache.set("d", "d")
    assert "b" not in cache
    cache.set("e", "e")  # c (2 accesses) vs d (1): d goes
    assert "d" not in cache and all(k in cache for k in "ace")
    cache.set("f", "f")  # e (1 access) is the least frequent
    assert "e" not in cache


def test_exact_lfu_remembers_evicted_keys_counts():
    cache = Cache(2, "allkeys-lfu")
    cache.set("hot", 1)
    for _ in range(5):
        cache.get("hot")
    cache.set("x", 1)
    cache.set("y", 1)  # x evicted
    cache.delete("hot")
    cache.set("hot", 1)  # back with 7 requests: y (1) is the victim of the next key
    cache.set("z", 1)
    assert "hot" in cache and "y" not in cache


@pytest.mark.parametrize("samples", [None, 5])
def test_lfu_keeps_hot_keys_through_a_scan_that_lru_loses(samples):
    """A scan of one-off keys flushes LRU but not LFU (Redis's LFU motivation)."""
    kept = {}
    for policy in ("allkeys-lfu", "allkeys-lru"):
        cache = Cache(10, policy, samples=samples, seed=2)
        for _ in range(50):
            for hot in ("h1", "h2", "h3"):
                if cache.get(hot) is None:
                    cache.set(hot, hot)
        for i in range(1000):
            cache.set(f"scan{i}", i)
        kept[policy] = sum(h in cache for h in ("h1", "h2", "h3"))
    assert kept == {"allkeys-lfu": 3, "allkeys-lru": 0}


def test_redis_lfu_counter_decays_a_minute_at_a_time():
    clock = Clock()
    cache = Cache(5, "allkeys-lfu", samples=5, clock=clock, seed=0)
    cache.set("hot", 0)
    for _ in range(200):
        cache.get("hot")
    counter = cache._tracker.counter
    assert 7 <= counter["hot"] <= 12  # logarithmic: 200 hits move it a few steps above 5
    for key in "abcd":
        cache.set(key, key)
    cache.set("new", 0)  # the fresh keys (5) lose to the hot key
    assert "hot" in cache
    clock.now += 20 * 60.0  # 20 idle minutes: every counter decays to 0
    for key in [k for k in ("a", "b", "c", "d", "new") if k in cache]:
        cache.get(key)  # accessed again: 0 → 1; the hot key stays at 0
    cache.set("late", 0)
    assert "hot" not in cache


def test_random_eviction_is_uniform_over_the_keys():
    """Each of 4 keys is the victim with probability 1/4: binomial, within Z·SE."""
    counts = dict.fromkeys("abcd", 0)
    n = 4000
    for seed in range(n):
        cache = Cache(4, "allkeys-random", seed=seed)
        for key in "abcd":
            cache.set(key, key)
        cache.set("e", "e")
        (gone,) = [k for k in "abcd" if k not in cache]
        counts[gone] += 1
    se = math.sqrt(n * 0.25 * 0.75)
    assert all(abs(c - n / 4) <= Z * se for c in counts.values()), counts


def test_volatile_policies_evict_only_keys_with_a_ttl():
    for policy in ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"):
        cache = Cache(3, policy, clock=Clock())
        cache.set("keep1", 1)
        cache.set("keep2", 2)
        cache.set("temp", 3, ttl_s=100.0)
        cache.set("new", 4, ttl_s=100.0)
        assert {"keep1", "keep2", "new"} == set(cache._data), policy
        cache.set("keep2", 5)  # no TTL now: "new" is the only candidate
        cache.set("newer", 6, ttl_s=50.0)
        assert "new" not in cache


def test_volatile_ttl_evicts_the_key_closest_to_expiring():
    clock = Clock()
    cache = Cache(3, "volatile-ttl", clock=clock)
    cache.set("late", 1, ttl_s=300.0)
    cache.set("soon", 2, ttl_s=10.0)
    cache.set("middle", 3, ttl_s=100.0)
    cache.set("d", 4, ttl_s=200.0)
    assert "soon" not in cache and len(cache) == 3
    cache.set("late", 1, ttl_s=1.0)  # a new TTL moves it to the front
    cache.set("e", 5, ttl_s=500.0)
    assert "late" not in cache


@pytest.mark.parametrize("policy", ["noeviction", "volatile-lru", "volatile-ttl"])
def test_a_full_cache_that_may_not_evict_refuses_new_keys(policy):
    cache = Cache(2, policy)
    cache.set("a", 1)
    cache.set("b", 2)
    with pytest.raises(CacheFull, match="maxmemory") as info:
        cache.set("c", 3)
    assert info.value.policy == policy and info.value.capacity == 2
    cache.set("a", 10)  # an update needs no room
    assert cache.get("a") == 10 and "c" not in cache


# --------------------------------------------------------------------------- TTL


def test_expired_keys_are_misses_and_are_removed_lazily():
    clock = Clock()
    cache = Cache(10, clock=clock)
    cache.set("a", 1, ttl_s=5.0)
    cache.set("b", 2)
    clock.now = 4.0
    assert cache.ttl("a") == pytest.approx(1.0) and cache.ttl("b") is None
    assert cache.get("a") == 1
    clock.now = 5.0
    assert "a" not in cache and len(cache) == 2  # not removed until read
    assert cache.get("a") is None and len(cache) == 1
    s = cache.stats
    assert (s.hits, s.misses, s.expirations) == (1, 1, 1)
    with pytest.raises(KeyError):
        cache.ttl("a")


def test_default_ttl_and_a_set_without_ttl_replaces_it():
    clock = Clock()
    cache = Cache(10, clock=clock, default_ttl_s=30.0)
    cache.set("a", 1)
    assert cache.ttl("a") == pytest.approx(30.0)
    cache.set("a", 1, ttl_s=2.0)
    clock.now = 3.0
    assert cache.get("a") is None


def test_expired_keys_make_room_before_any_live_key_is_evicted():
    clock = Clock()
    cache = Cache(2, "allkeys-lru", clock=clock)
    cache.set("old", 1, ttl_s=1.0)
    cache.set("live", 2)
    cache.get("live")
    clock.now = 2.0
    cache.set("new", 3)
    assert "live" in cache and "new" in cache
    assert (cache.stats.evictions, cache.stats.expirations) == (0, 1)


def test_delete_clear_len_and_stats():
    cache = Cache(5)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1 and cache.get("zz") is None and cache.get("zz", 7) == 7
    assert cache.delete("a") is True and cache.delete("a") is False
    assert len(cache) == 1
    cache.clear()
    assert len(cache) == 0 and "b" not in cache
    s = cache.stats
    assert (s.hits, s.misses) == (1, 2) and s.hit_ratio == pytest.approx(1 / 3)
    assert "hit_ratio" in s._repr_html_()


def test_exact_lru_serves_hits_fast():
    """The course benchmarks it at over a million hits a second; here a loose floor."""
    cache = Cache(1000)
    for i in range(1000):
        cache.set(i, i)
    keys = list(range(1000)) * 100
    get = cache.get
    start = time.perf_counter()
    for k in keys:
        get(k)
    assert len(keys) / (time.perf_counter() - start) > 200_000


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("args, kw, name, exc", [
    ((0,), {}, "capacity", ValueError),
    ((-3,), {}, "capacity", ValueError),
    ((2.5,), {}, "capacity", TypeError),
    (("3",), {}, "capacity", TypeError),
    ((3, "lru"), {}, "allkeys-lru", ValueError),
    ((3,), {"samples": 0}, "samples", ValueError),
    ((3,), {"default_ttl_s": -1}, "default_ttl_s", ValueError),
    ((3,), {"clock": 5}, "clock", TypeError),
    ((3,), {"seed": -1}, "seed", ValueError),
])
def test_bad_arguments_name_the_parameter(args, kw, name, exc):
    with pytest.raises(exc, match=name):
        Cache(*args, **kw)


@pytest.mark.parametrize("ttl", [-1.0, 0.0, math.inf])
def test_bad_ttl_is_refused(ttl):
    with pytest.raises(ValueError, match="ttl_s"):
        Cache(3).set("a", 1, ttl_s=ttl)


def test_unknown_policy_lists_the_names():
    with pytest.raises(ValueError) as info:
        Cache(3, "LRU")
    assert all(p in str(info.value) for p in store.POLICIES)
