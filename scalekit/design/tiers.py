"""Each tier of a design, evaluated by its own topic's model — nothing here is a new formula.

* HTTP caching: :func:`scalekit.caching.browse` — a real RFC 9111
  :class:`~scalekit.caching.HttpCache` revisited at the page's request rate (the browsers'
  private caches first, then a shared one at the rate they let through);
* app servers: :func:`scalekit.servers.autoscale` (the Kubernetes HPA) or
  :func:`scalekit.servers.fixed_servers` over the day;
* balancer and app servers at the worst moment of the day:
  :func:`scalekit.balancing.balance_through` — the balancer's queue, then the policy's
  dispatch to the servers in the one event loop (:mod:`scalekit.sim`);
* sessions: :func:`scalekit.sessions.simulate_sessions`, without and with a server failure;
* server-side cache: Che's approximation (:func:`scalekit.caching.che_lru_hit_ratio` and its
  twins) for the size, the TTL model's closed forms (:func:`scalekit.caching.ttl_tradeoff`'s
  ``theory_*`` columns) for the expiry;
* database: the shard rule's placement of every key
  (:meth:`scalekit.partitioning.Strategy.shards_for`), read scaling
  (:func:`scalekit.replication.read_scaling`), and commit latency and loss at a primary
  failure (:func:`scalekit.replication.run_single_primary`, real SQLite nodes).

Every function is cached on its (hashable) inputs: a design board that moves one slider
re-runs only the tier it changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from scalekit import balancing, caching, partitioning, replication, sessions, sim
from scalekit.servers import autoscaling

__all__ = ["HttpTier", "http_tier", "day", "forwarded_trace", "app_pool", "through_balancer",
           "sessions_runs", "cache_hit", "shard_shares", "db_capacity_rps", "commit_runs", "clear",
           "REQUESTS", "FAIL_AT_S", "SESSION_SERVERS"]

#: Requests followed through balancer and servers at the worst moment of the day.
REQUESTS = 20_000
#: When the primary dies in the replication run (s; the run lasts its default 5 s).
FAIL_AT_S = 2.0
#: Visits one browse run simulates at most (each is a real HttpCache lookup).
_VISITS = 2500
_CACHE = 512


@dataclass(frozen=True, eq=False)
class HttpTier:
    """What the HTTP caches do to the cacheable requests: ``browser`` and ``proxy`` runs
    (None when absent), the share each lets through (``forwarded_browser``,
    ``forwarded_proxy``) and the stale share of what users see."""

    browser: caching.Browse | None
    proxy: caching.Browse | None
    forwarded_browser: float
    forwarded_proxy: float
    stale_share: float

    @property
    def forwarded(self) -> float:
        """The share of cacheable requests that reach the balancer."""
        return self.forwarded_browser * self.forwarded_proxy


def _browse(max_age_s: int, gap_s: float, update_every_s: float, shared: bool, seed: int):
    # Enough cycles (max-age + one gap) to average over, at most _VISITS visits.
    duration = min(max(8 * (max_age_s + gap_s), 400 * gap_s), _VISITS * gap_s)
    return caching.browse(max_age_s, update_every_s=update_every_s, visit_every_s=gap_s,
                          duration_s=duration, shared=shared, seed=seed)


def _forwarded(run: caching.Browse) -> float:
    return run.origin_requests / run.visits if run.visits else 1.0


@lru_cache(maxsize=_CACHE)
def http_tier(max_age_s: int, shared_cache: bool, page_rps: float, revisit_every_s: float,
              update_every_s: float, seed: int) -> HttpTier:
    """Browsers (one user reopening a page every ``revisit_every_s``), then — with
    ``shared_cache`` — one shared proxy that every user's requests for a page meet
    (``page_rps`` for one page, less what the browsers answered).

    Each run simulates at most 2,500 visits: when a copy lives longer than that many
    requests (λ·max-age > 2,500) the run sees a single fill, and the forwarded share it
    reports, 1/2,500, overstates the true 1/(1 + λ·max-age) — a cautious figure."""
    if max_age_s == 0:
        return HttpTier(None, None, 1.0, 1.0, 0.0)
    browser = _browse(max_age_s, revisit_every_s, update_every_s, False, seed)
    fb = _forwarded(browser)
    stale = browser.stale_share
    proxy, fp = None, 1.0
    if shared_cache and page_rps * fb > 0:
        proxy = _browse(max_age_s, 1.0 / (page_rps * fb), update_every_s, True, seed)
        fp = _forwarded(proxy)
        # a browser's own hits show its copy; what it forwards, the proxy may answer stale
        stale = (1 - fb) * browser.stale_share + fb * proxy.stale_share
    return HttpTier(browser, proxy, fb, fp, stale)


@lru_cache(maxsize=64)
def day(traffic) -> sim.TrafficTrace:
    """``traffic.trace()``, made once per traffic."""
    return traffic.trace()


def forwarded_trace(traffic, share: float) -> sim.TrafficTrace:
    """The day's trace with every rate multiplied by ``share`` (what reaches the balancer)."""
    day_ = day(traffic)
    return sim.TrafficTrace(day_.times_s, day_.rates_rps * share)


@lru_cache(maxsize=_CACHE)
def app_pool(traffic, share: float, autoscale: bool, servers: int, target: float,
             min_servers: int, max_servers: int, service_s: float
             ) -> autoscaling.AutoscaleResult:
    """The app servers over the day (``traffic``'s trace times ``share``): the HPA's
    pool, or a fixed one."""
    trace = forwarded_trace(traffic, share)
    if autoscale:
        return autoscaling.autoscale(trace, target_utilisation=target, min_servers=min_servers,
                                     max_servers=max_servers, mean_service_s=service_s)
    return autoscaling.fixed_servers(trace, servers, mean_service_s=service_s)


@lru_cache(maxsize=_CACHE)
def through_balancer(rate_rps: float, servers: int, policy: str, cores: int, service_s: float,
                     seed: int) -> balancing.ChokepointResult:
    """:data:`REQUESTS` Poisson requests at ``rate_rps`` through the balancer and
    ``servers`` app servers (the first tenth of the run is warm-up)."""
    w = sim.Workload.poisson(rate_rps, sim.Exponential(service_s), n=REQUESTS, seed=seed)
    return balancing.balance_through(w, servers=servers, policy=policy, cores=cores,
                                     warmup_s=0.1 * w.horizon_s, seed=seed)


#: Most servers the sessions model runs: a sample of the pool (each server's share of the
#: users is scaled to the pool's size by the caller).
SESSION_SERVERS = 16


def sessions_runs(strategy: str, servers: int, policy: str, service_s: float, seed: int
                  ) -> tuple[sessions.SessionsResult, sessions.SessionsResult | None]:
    """The sessions model on ``servers`` servers (at most :data:`SESSION_SERVERS`), without
    and with server 0 dying at 60 s (None with one server: nobody could take over)."""
    return _sessions_runs(strategy, min(servers, SESSION_SERVERS), policy
                          if policy in sessions.BALANCING_POLICIES else "round_robin",
                          service_s, seed)


@lru_cache(maxsize=_CACHE)
def _sessions_runs(strategy, n, policy, service_s, seed):
    common = dict(servers=n, policy=policy, service_s=service_s, real_store=False, seed=seed)
    calm = sessions.simulate_sessions(strategy, **common)
    failed = (sessions.simulate_sessions(strategy, server_fails_at=60.0, **common)
              if n >= 2 else None)
    return calm, failed


def _popularities(keys: int, skew: float) -> np.ndarray:
    return caching.zipf_popularities(keys, skew)


@lru_cache(maxsize=_CACHE)
def cache_hit(cache_keys: int, eviction: str, ttl_s: float, read_rps: float, write_rps: float,
              keys: int, skew: float) -> tuple[float, float, float, float]:
    """(hit ratio, size hit ratio, TTL hit ratio, stale share of reads) of the server-side
    cache: held (Che's approximation for the size) and not expired (the TTL model at these
    read and write rates), the two taken as independent."""
    if cache_keys == 0 or read_rps <= 0:
        return 0.0, 0.0, 0.0, 0.0
    p = _popularities(keys, skew)
    size = {"allkeys-lru": caching.che_lru_hit_ratio, "allkeys-random":
            caching.che_random_hit_ratio, "allkeys-lfu": caching.lfu_hit_ratio}[eviction]
    h_size = size(p, cache_keys)
    ttl = caching.ttl_tradeoff([ttl_s], read_rate=read_rps, write_rate=write_rps, keys=keys,
                               skew=skew, duration_s=1e-9, seed=0)
    h_ttl = 1.0 - float(ttl.theory_db_reads_per_s[0]) / read_rps
    return h_size * h_ttl, h_size, h_ttl, h_size * float(ttl.theory_stale_share[0])


@lru_cache(maxsize=_CACHE)
def shard_shares(strategy: str, shards: int, keys: int, skew: float) -> np.ndarray:
    """The share of the database's requests each shard gets: every key placed by the
    shard rule, weighted by its Zipf popularity."""
    rule = partitioning.strategy(strategy, shards)
    placed = rule.shards_for(list(range(keys)))
    shares = np.bincount(placed, weights=_popularities(keys, skew), minlength=shards)
    shares.setflags(write=False)
    return shares


def db_capacity_rps(replicas: int, write_share: float, node_capacity_rps: float) -> float:
    """What one shard (a primary and ``replicas``) can take: read scaling's throughput."""
    scaling = replication.read_scaling(replicas, write_share=write_share,
                                       node_capacity_rps=node_capacity_rps)
    return float(scaling.throughput_rps[replicas])


@lru_cache(maxsize=_CACHE)
def commit_runs(replicas: int, commit: str, delay_s: float, seed: int
                ) -> tuple[replication.SinglePrimaryResult, replication.SinglePrimaryResult]:
    """The replication model's run, the network ``delay_s`` one way (its jitter a fifth of
    that), without and with the primary dying at :data:`FAIL_AT_S` (a replica promoted
    0.2 s later)."""
    net = dict(replicas=replicas, commit=commit, delay_s=delay_s, jitter_s=delay_s / 5,
               seed=seed)
    calm = replication.run_single_primary(**net)
    failed = replication.run_single_primary(fail_at=FAIL_AT_S, **net)
    return calm, failed


def clear() -> None:
    """Forget every cached tier (after a topic model changed in this process)."""
    for fn in (day, http_tier, app_pool, through_balancer, _sessions_runs, cache_hit, shard_shares,
               commit_runs):
        fn.cache_clear()
