"""The thundering herd on a hot key, and the two cures: coalescing misses and leases.

The real mechanism. A hot key is read thousands of times a second. When its cached copy
expires, every request that arrives before someone has refilled it misses too, and each of
them queries the database: with λ requests per second and a refill taking d seconds, an
expiry sends about 1 + λd queries at once — at 2,000 requests/s and a 50 ms query, about 101.
"Scaling Memcache at Facebook" (Nishtala et al., NSDI 2013) calls this a thundering herd.

* ``mode="none"``: every miss goes to the database. The first arrival after the expiry
  misses; so do all those in the next d seconds, a Poisson(λd) number: 1 + λd queries per
  expiry on average.
* ``mode="coalesce"``: each application server lets one request per key go to the
  database and makes the others wait for its answer (nginx ``proxy_cache_lock``, Go's
  ``singleflight``). The server of the first miss queries; each other server queries if at
  least one of its requests (a Poisson(λd/S) number, requests spread uniformly over S
  servers) arrives during the first refill: 1 + (S − 1)(1 − e^{−λd/S}) queries per expiry,
  at most S.
* ``mode="lease"``: the cache itself hands out one lease token per key (memcache: at most
  one every ``lease_s`` = 10 s); only the holder queries the database, every other client
  is told to wait ``lease_wait_ms`` and ask the cache again — or, with ``serve_stale``,
  takes the expired value at once. Exactly one query per expiry. Facebook reports peak
  database queries for hot keys falling from 17K/s to 1.3K/s with leases.

The model: requests arrive as a Poisson process of rate ``rate_rps``, each to a server
chosen uniformly at random; the cache is warm at t = 0 and every fill (a ``set``) gives the
key ``ttl_s`` more seconds; a cache operation takes ``cache_ms``, a query ``db_ms`` (the
database is not slowed by the herd itself: the count of queries, not their queueing, is
what this shows). Everything is computed exactly, expiry by expiry, from the arrival times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html

__all__ = ["Herd", "herd", "expected_db_per_expiry", "MODES", "MAX_REQUESTS"]

MODES = ("none", "coalesce", "lease")
MAX_REQUESTS = 2_000_000  # rate_rps × duration_s


def expected_db_per_expiry(mode: str, rate_rps: float, db_ms: float, servers: int = 1) -> float:
    """The mean number of database queries per expiry (see the module): 1 + λd for
    ``"none"``, 1 + (S − 1)(1 − e^{−λd/S}) for ``"coalesce"``, 1 for ``"lease"``."""
    mode = _check.choice("mode", mode, MODES)
    lam_d = _check.positive("rate_rps", rate_rps) * _check.positive("db_ms", db_ms) / 1000
    s = _check.integer("servers", servers, low=1)
    if mode == "none":
        return 1.0 + lam_d
    if mode == "coalesce":
        return 1.0 + (s - 1) * -math.expm1(-lam_d / s)
    return 1.0


@dataclass(frozen=True, eq=False, repr=False)
class Herd(_html.ScalarTable):
    """One run of :func:`herd`. ``requests`` were served as ``hits``, ``db_queries`` (went to
    the database), ``waited`` (waited for another request's query: a coalesced flight or a
    lease holder) or ``stale_served`` (an expired value, lease mode with ``serve_stale``);
    the four add up to ``requests``. ``expiries`` refills, ``db_per_expiry_mean`` queries
    each (``theory_db_per_expiry`` the closed form); ``peak_db_per_s`` the most queries
    started in any 1-second window, ``peak_db_per_100ms`` in any 100 ms; latency in ms;
    ``none_db_queries`` the queries of mode ``"none"`` on the same arrivals and
    ``reduction`` = none_db_queries / db_queries. Arrays: ``db_per_expiry`` (per refill),
    and per ``bin_ms`` bin from ``bin_start_s``: ``requests_per_bin``, ``db_per_bin``."""

    mode: str
    rate_rps: float
    db_ms: float
    ttl_s: float
    servers: int
    duration_s: float
    requests: int
    hits: int
    db_queries: int
    waited: int
    stale_served: int
    expiries: int
    db_per_expiry_mean: float
    theory_db_per_expiry: float
    peak_db_per_s: int
    peak_db_per_100ms: int
    mean_latency_ms: float
    p99_latency_ms: float
    none_db_queries: int
    reduction: float
    db_per_expiry: np.ndarray = field(repr=False)
    bin_start_s: np.ndarray = field(repr=False)
    requests_per_bin: np.ndarray = field(repr=False)
    db_per_bin: np.ndarray = field(repr=False)


_HIT, _DB, _WAIT, _STALE = 0, 1, 2, 3


def _refills(t, server, mode, d, ttl, cache, wait, serve_stale):
    """Walk the expiries. Returns (outcome per request, latency per request (s), start
    times of database queries, queries per expiry)."""
    n = t.size
    outcome = np.zeros(n, dtype=np.int8)
    latency = np.full(n, cache)
    starts, per_expiry = [], []
    expiry = ttl
    while True:
        i = int(np.searchsorted(t, expiry, side="left"))  # first arrival after the expiry
        if i >= n:
            break
        j = int(np.searchsorted(t, t[i] + d, side="left"))  # arrivals before the first fill
        tw = t[i:j]
        if mode == "none":
            outcome[i:j] = _DB
            latency[i:j] = cache + d
            fills = tw + d
        elif mode == "coalesce":
            srv = server[i:j]
            found, first = np.unique(srv, return_index=True)
            flight_start = np.empty(int(srv.max()) + 1)
            flight_start[found] = tw[first]
            begun = flight_start[srv]
            outcome[i:j] = _WAIT
            outcome[i + first] = _DB
            latency[i:j] = cache + (begun + d - tw)
            fills = tw[first] + d
        else:
            outcome[i] = _DB
            latency[i] = cache + d
            if serve_stale:
                outcome[i + 1:j] = _STALE
            else:
                outcome[i + 1:j] = _WAIT
                tries = np.ceil((t[i] + d - tw[1:]) / wait)  # ≥ 1: they arrived before the fill
                latency[i + 1:j] = cache + tries * wait
            fills = tw[:1] + d
        queried = tw[outcome[i:j] == _DB]
        starts.append(queried)
        per_expiry.append(queried.size)
        expiry = float(fills.max()) + ttl  # the last set gives the key its TTL
    starts = np.concatenate(starts) if starts else np.zeros(0)
    return outcome, latency, starts, np.array(per_expiry, dtype=np.int64)


def _peak(starts: np.ndarray, window_s: float) -> int:
    """The most query starts in any half-open window [x, x + window_s)."""
    if starts.size == 0:
        return 0
    ends = np.searchsorted(starts, starts + window_s, side="left")
    return int((ends - np.arange(starts.size)).max())


def herd(*, rate_rps: float = 2000.0, db_ms: float = 50.0, ttl_s: float = 10.0,
         duration_s: float = 60.0, servers: int = 4, mode: str = "none",
         lease_wait_ms: float = 10.0, lease_s: float = 10.0, serve_stale: bool = False,
         cache_ms: float = 0.5, bin_ms: float = 100.0, seed: int | None = 0) -> Herd:
    """Poisson requests (``rate_rps`` per s) for one hot key over ``servers`` application
    servers sharing one cache, for ``duration_s`` seconds; the key lives ``ttl_s`` seconds
    after each fill and a refill query takes ``db_ms``. ``mode``: ``"none"``, ``"coalesce"``
    (one query per server) or ``"lease"`` (one per key: waiters retry every
    ``lease_wait_ms``, or take the stale value if ``serve_stale``); ``lease_s`` the lease
    period (a query must be shorter). The timeline has bins of ``bin_ms``. See the module."""
    lam = _check.positive("rate_rps", rate_rps)
    d_ms = _check.positive("db_ms", db_ms)
    ttl = _check.positive("ttl_s", ttl_s)
    dur = _check.positive("duration_s", duration_s)
    s = _check.integer("servers", servers, low=1, high=100_000)
    how = _check.choice("mode", mode, MODES)
    wait = _check.positive("lease_wait_ms", lease_wait_ms) / 1000
    lease = _check.positive("lease_s", lease_s)
    stale = _check.boolean("serve_stale", serve_stale)
    cache = _check.non_negative("cache_ms", cache_ms) / 1000
    bin_s = _check.positive("bin_ms", bin_ms) / 1000
    d = d_ms / 1000
    if lam * dur > MAX_REQUESTS:
        raise ValueError(f"rate_rps × duration_s = {lam * dur:,.0f} requests is over "
                         f"{MAX_REQUESTS:,}: lower rate_rps or duration_s")
    if d >= ttl:
        raise ValueError(f"db_ms ({d_ms:g} ms) must be shorter than ttl_s ({ttl:g} s)")
    if how == "lease" and d >= lease:
        raise ValueError(f"db_ms ({d_ms:g} ms) must be shorter than lease_s ({lease:g} s): "
                         f"a lease outlived by its query is handed out again")
    if dur / bin_s > 1_000_000:
        raise ValueError(f"bin_ms ({bin_ms:g}) gives over 1,000,000 bins: make it larger")
    rng = np.random.default_rng(_check.seed(seed))
    n = int(rng.poisson(lam * dur))
    t = np.sort(rng.uniform(0.0, dur, n))
    server = rng.integers(s, size=n)
    outcome, latency, starts, per_expiry = _refills(t, server, how, d, ttl, cache, wait, stale)
    none_queries = (int(per_expiry.sum()) if how == "none"
                    else int(_refills(t, server, "none", d, ttl, cache, wait, stale)[3].sum()))
    counts = np.bincount(outcome, minlength=4)
    edges = np.arange(0.0, dur + bin_s, bin_s)
    if edges[-1] < dur:
        edges = np.append(edges, edges[-1] + bin_s)
    per_bin = [np.histogram(x, bins=edges)[0] for x in (t, starts)]
    queries = int(counts[_DB])
    ms = latency * 1000
    for a in (per_expiry, *per_bin):
        a.setflags(write=False)
    starts_at = edges[:-1]
    starts_at.setflags(write=False)
    return Herd(
        mode=how, rate_rps=lam, db_ms=d_ms, ttl_s=ttl, servers=s, duration_s=dur, requests=n,
        hits=int(counts[_HIT]), db_queries=queries, waited=int(counts[_WAIT]),
        stale_served=int(counts[_STALE]), expiries=int(per_expiry.size),
        db_per_expiry_mean=float(per_expiry.mean()) if per_expiry.size else 0.0,
        theory_db_per_expiry=expected_db_per_expiry(how, lam, d_ms, s),
        peak_db_per_s=_peak(starts, 1.0), peak_db_per_100ms=_peak(starts, 0.1),
        mean_latency_ms=float(ms.mean()) if n else 0.0,
        p99_latency_ms=float(np.percentile(ms, 99)) if n else 0.0,
        none_db_queries=none_queries,
        reduction=none_queries / queries if queries else math.inf,
        db_per_expiry=per_expiry, bin_start_s=starts_at, requests_per_bin=per_bin[0],
        db_per_bin=per_bin[1])
