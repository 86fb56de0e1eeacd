"""The thundering herd on one hot key (scalekit.caching.serverside.stampede), against its
closed forms.

Sources: "Scaling Memcache at Facebook" (Nishtala et al., NSDI 2013): leases, one token per
key per 10 s, stop thundering herds (peak database queries for hot keys fell from 17K/s to
1.3K/s); nginx proxy_cache_lock and Go's singleflight coalesce misses per process. Poisson
arrivals: during a refill of d seconds a Poisson(λd) number of requests arrive (so 1 + λd
queries per expiry without protection), and thinned uniformly over S servers each server
sees Poisson(λd/S) (so 1 + (S − 1)(1 − e^{−λd/S}) with per-server coalescing). Z = 4
standard errors over seeds (tests/_stats.py).
"""

import numpy as np
import pytest

from scalekit.caching.serverside import stampede as herd_module
from scalekit.caching.serverside.stampede import expected_db_per_expiry, herd

from _stats import Z, assert_matches, mean_over_seeds


def _per_expiry(seed, **kw):
    return herd(seed=seed, **kw).db_per_expiry_mean


def test_no_protection_sends_one_plus_lambda_d_queries_per_expiry():
    kw = dict(mode="none", rate_rps=2000, db_ms=50, ttl_s=1.0, duration_s=20.0)
    mean, se = mean_over_seeds(lambda s: _per_expiry(s, **kw), reps=8)
    assert_matches(mean, se, 1 + 2000 * 0.05)


def test_coalescing_sends_at_most_one_query_per_server_as_the_closed_form_says():
    kw = dict(mode="coalesce", rate_rps=100, db_ms=20, ttl_s=0.5, duration_s=50.0, servers=4)
    expected = 1 + 3 * (1 - np.exp(-100 * 0.02 / 4))
    assert expected_db_per_expiry("coalesce", 100, 20, 4) == pytest.approx(expected)
    mean, se = mean_over_seeds(lambda s: _per_expiry(s, **kw), reps=8)
    assert_matches(mean, se, expected)
    r = herd(seed=1, **kw)
    assert r.db_per_expiry.max() <= 4 and r.db_per_expiry.min() >= 1


@pytest.mark.parametrize("seed", range(4))
def test_a_lease_means_exactly_one_query_per_expiry(seed):
    r = herd(mode="lease", seed=seed, ttl_s=1.0, duration_s=20.0)
    assert r.expiries >= 15
    assert np.all(r.db_per_expiry == 1) and r.db_queries == r.expiries
    assert r.peak_db_per_s <= 2  # expiries are ≥ 1 s apart: at most two in a 1 s window


def test_the_memcache_figure_101_queries_without_protection_and_1_with_a_lease():
    none = herd(mode="none")
    lease = herd(mode="lease")
    assert none.theory_db_per_expiry == pytest.approx(101)
    # each expiry's count is 1 + Poisson(λd): judge the mean by its standard error
    n = none.db_per_expiry.size
    se = none.db_per_expiry.std(ddof=1) / np.sqrt(n)
    assert n >= 5 and abs(none.db_per_expiry_mean - 101) <= Z * se
    assert lease.db_per_expiry_mean == 1 and lease.none_db_queries == none.db_queries
    assert lease.reduction > 50 and none.reduction == 1
    assert none.peak_db_per_100ms >= none.db_per_expiry.max() > 50


@pytest.mark.parametrize("mode, stale", [("none", False), ("coalesce", False),
                                         ("lease", False), ("lease", True)])
def test_every_request_is_served_exactly_once(mode, stale):
    r = herd(mode=mode, serve_stale=stale, rate_rps=500, ttl_s=2.0, duration_s=30.0)
    assert r.hits + r.db_queries + r.waited + r.stale_served == r.requests
    assert r.requests_per_bin.sum() == r.requests
    assert r.db_per_bin.sum() == r.db_queries == r.db_per_expiry.sum()
    assert r.bin_start_s.size == r.requests_per_bin.size == r.db_per_bin.size
    assert (r.stale_served > 0) == stale
    assert (r.waited > 0) == (mode in ("coalesce", "lease") and not stale)


def test_latency_of_waiters_is_bounded_by_the_refill():
    db_ms, wait_ms = 50, 10
    lease = herd(mode="lease", db_ms=db_ms, lease_wait_ms=wait_ms)
    coalesce = herd(mode="coalesce", db_ms=db_ms)
    stale = herd(mode="lease", db_ms=db_ms, serve_stale=True)
    none = herd(mode="none", db_ms=db_ms)
    # a waiter retries every 10 ms: it waits at most the refill plus one retry
    assert lease.mean_latency_ms < none.mean_latency_ms
    assert stale.mean_latency_ms < lease.mean_latency_ms
    assert coalesce.mean_latency_ms < none.mean_latency_ms
    r = herd(mode="lease", db_ms=db_ms, lease_wait_ms=wait_ms, rate_rps=500, ttl_s=0.5,
             duration_s=10)
    assert r.p99_latency_ms <= db_ms + wait_ms + 0.5 + 1e-9


def test_same_seed_same_run():
    a, b = herd(seed=5, mode="coalesce"), herd(seed=5, mode="coalesce")
    assert a.summary() == b.summary()
    assert np.array_equal(a.db_per_bin, b.db_per_bin)
    assert herd(seed=6, mode="coalesce").requests != a.requests


@pytest.mark.parametrize("kw, name", [
    ({"rate_rps": 100_000, "duration_s": 100}, "rate_rps"), ({"mode": "single"}, "mode"),
    ({"servers": 0}, "servers"), ({"db_ms": 20_000}, "db_ms"), ({"ttl_s": -1}, "ttl_s"),
    ({"lease_wait_ms": 0}, "lease_wait_ms"), ({"serve_stale": "yes"}, "serve_stale"),
    ({"seed": -2}, "seed"), ({"bin_ms": 0}, "bin_ms"),
])
def test_bad_input_names_the_parameter(kw, name):
    with pytest.raises((ValueError, TypeError), match=name):
        herd(**kw)


def test_cap_is_documented():
    assert herd_module.MAX_REQUESTS == 2_000_000
