"""What a design is made of: the traffic it must carry, the choice made at each tier, and the
price list its cost is read from. Three frozen dataclasses, each checked when made.

A request travels through the tiers in this order (the lecture's "from one server to a
million users"):

1. **HTTP caching** — ``max_age_s`` on the public pages, kept by browsers only or also by a
   shared caching proxy in front of everything (``shared_cache``);
2. **balancer** — its ``policy``, its ``balancer_cores``, alone or as an active–passive
   pair (``balancer_pair``, VRRP);
3. **app servers** — a fixed pool of ``servers`` or an autoscaled one (``autoscale``,
   ``target_utilisation``, ``min_servers``/``max_servers``), each needing ``service_ms``
   of work per request;
4. **sessions** — how a logged-in user's session survives the balancer (``sessions``);
5. **server-side cache** — ``cache_keys`` entries (0: none), its ``eviction`` rule and a
   ``cache_ttl_s``;
6. **database** — ``shards`` (placed by ``shard_strategy``), ``replicas`` per shard and the
   ``commit`` mode, each node answering a query in ``db_query_ms``.

Units: seconds (``_s``), milliseconds (``_ms``), requests per second (``_rps``), US dollars
per hour (``_per_h``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from scalekit import _check, sim
from scalekit.balancing import POLICIES as _BALANCER_POLICIES
from scalekit.partitioning import STRATEGIES as _SHARD_STRATEGIES
from scalekit.replication import COMMIT_MODES
from scalekit.sessions import STRATEGIES as SESSION_STRATEGIES

__all__ = ["Traffic", "Design", "Prices", "BALANCER_POLICIES", "EVICTIONS", "SHARD_STRATEGIES",
           "SESSION_STRATEGIES", "COMMIT_MODES", "MAX_KEYS", "MAX_RPS"]

#: Balancer rules a design may use: the balancing topic's rules that spread load (the hash
#: rules pin users to servers — the sessions tier chooses stickiness).
BALANCER_POLICIES = tuple(p for p in _BALANCER_POLICIES if not p.endswith("hash"))
#: Eviction rules of the server-side cache, by Redis's names (notebook 06).
EVICTIONS = ("allkeys-lru", "allkeys-lfu", "allkeys-random")
#: Shard placement rules that need no extra table (notebook 04); range and directory need a
#: key layout the capstone does not have.
SHARD_STRATEGIES = tuple(s for s in _SHARD_STRATEGIES if s in ("modulo", "jump", "consistent"))
#: Most database keys one traffic may name, and the highest peak it may offer: bounds that
#: keep one evaluation well under a second.
MAX_KEYS = 20_000
MAX_RPS = 1_000_000.0


@dataclass(frozen=True)
class Traffic:
    """A day of traffic for about a million users (notebook 01's daily cycle with a flash
    crowd), and what the requests ask for.

    ``peak_rps`` — the daily peak at 14:00 (the night is an eighth of it); ``spike_rps`` —
    a flash crowd added at 09:00 for 15 minutes. 2,000 requests/s at the peak is ~110 million
    requests a day: a million daily users at ~100 requests each. ``read_share`` — the
    requests that only read; ``cacheable_share`` — the public pages among them, which an
    HTTP cache may store (at most ``read_share``); ``pages`` such pages, equally popular,
    each changed every ``page_update_every_s`` on average (Poisson); ``revisit_every_s`` —
    how often one user reopens a page (what a browser's own cache sees). ``keys`` database
    rows behind the rest, read and written with Zipf(``skew``) popularity. ``seed`` drives
    every simulation of the evaluation.
    """

    peak_rps: float = 2000.0
    spike_rps: float = 1500.0
    read_share: float = 0.9
    cacheable_share: float = 0.4
    pages: int = 200
    page_update_every_s: float = 600.0
    revisit_every_s: float = 300.0
    keys: int = 5000
    skew: float = 0.9
    seed: int = 0

    def __post_init__(self):
        checked = dict(
            peak_rps=_check.number("peak_rps", self.peak_rps, low=0.0, low_open=True,
                                   high=MAX_RPS),
            spike_rps=_check.number("spike_rps", self.spike_rps, low=0.0, high=MAX_RPS),
            read_share=_check.probability("read_share", self.read_share),
            cacheable_share=_check.probability("cacheable_share", self.cacheable_share),
            pages=_check.integer("pages", self.pages, low=1, high=100_000),
            page_update_every_s=_check.positive("page_update_every_s",
                                                self.page_update_every_s),
            revisit_every_s=_check.positive("revisit_every_s", self.revisit_every_s),
            keys=_check.integer("keys", self.keys, low=1, high=MAX_KEYS),
            skew=_check.number("skew", self.skew, low=0.0, high=3.0),
            seed=_check.integer("seed", self.seed, low=0))
        if checked["cacheable_share"] > checked["read_share"]:
            raise ValueError(f"cacheable_share ({self.cacheable_share!r}) must be <= "
                             f"read_share ({self.read_share!r}): only reads can be cached")
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def trace(self) -> sim.TrafficTrace:
        """The day as a :class:`~scalekit.sim.TrafficTrace` (the shape of notebook 01's)."""
        return sim.TrafficTrace.daily(base_rps=self.peak_rps / 8, peak_rps=self.peak_rps,
                                      spike_at_s=9 * 3600, spike_rps=self.spike_rps,
                                      spike_s=900)

    def scaled(self, factor: float) -> Traffic:
        """The same traffic with every rate multiplied by ``factor`` (> 0, and small enough
        that no rate passes :data:`MAX_RPS`)."""
        f = _check.number("factor", factor, low=0.0, low_open=True,
                          high=MAX_RPS / max(self.peak_rps, self.spike_rps))
        return _replace(self, peak_rps=self.peak_rps * f, spike_rps=self.spike_rps * f)


@dataclass(frozen=True)
class Design:
    """The choices at each tier (see the module for the order a request takes). The
    default is the start of the story: one server, one database, nothing cached.

    HTTP: ``max_age_s`` (whole s; 0: nothing cached) and ``shared_cache`` (a shared caching
    proxy in front, besides the browsers). Balancer: ``policy`` (one of
    :data:`BALANCER_POLICIES`), ``balancer_cores``, ``balancer_pair`` (an active–passive
    VRRP pair). App servers: ``servers`` (a fixed pool) or ``autoscale`` with
    ``target_utilisation``, ``min_servers`` and ``max_servers``; ``service_ms`` the mean
    work per request (ms, exponential). Sessions: ``sessions``, one of
    :data:`SESSION_STRATEGIES`. Server-side cache: ``cache_keys`` entries (0: no cache),
    ``eviction`` (:data:`EVICTIONS`), ``cache_ttl_s`` (s). Database: ``shards`` placed by
    ``shard_strategy`` (:data:`SHARD_STRATEGIES`), ``replicas`` per shard, ``commit`` (one of
    :data:`COMMIT_MODES`), ``replica_delay_ms`` the one-way network delay to a replica
    (ms; 1 ms: another zone of one region), ``db_query_ms`` the work of one query on a node (ms).
    """

    max_age_s: int = 0
    shared_cache: bool = False
    policy: str = "round_robin"
    balancer_cores: int = 1
    balancer_pair: bool = False
    servers: int = 1
    autoscale: bool = False
    target_utilisation: float = 0.6
    min_servers: int = 2
    max_servers: int = 100
    service_ms: float = 20.0
    sessions: str = "sticky_cookie"
    cache_keys: int = 0
    eviction: str = "allkeys-lru"
    cache_ttl_s: float = 60.0
    shards: int = 1
    shard_strategy: str = "jump"
    replicas: int = 0
    commit: str = "async"
    replica_delay_ms: float = 1.0
    db_query_ms: float = 1.0

    def __post_init__(self):
        checked = dict(
            max_age_s=_check.integer("max_age_s", self.max_age_s, low=0, high=31_536_000),
            shared_cache=_check.boolean("shared_cache", self.shared_cache),
            policy=_check.choice("policy", self.policy, BALANCER_POLICIES),
            balancer_cores=_check.integer("balancer_cores", self.balancer_cores, low=1,
                                          high=64),
            balancer_pair=_check.boolean("balancer_pair", self.balancer_pair),
            servers=_check.integer("servers", self.servers, low=1, high=1000),
            autoscale=_check.boolean("autoscale", self.autoscale),
            target_utilisation=_check.number("target_utilisation", self.target_utilisation,
                                             low=0.0, low_open=True, high=1.0),
            min_servers=_check.integer("min_servers", self.min_servers, low=1, high=1000),
            max_servers=_check.integer("max_servers", self.max_servers, low=1, high=1000),
            service_ms=_check.number("service_ms", self.service_ms, low=0.0, low_open=True,
                                     high=10_000.0),
            sessions=_check.choice("sessions", self.sessions, SESSION_STRATEGIES),
            cache_keys=_check.integer("cache_keys", self.cache_keys, low=0, high=MAX_KEYS),
            eviction=_check.choice("eviction", self.eviction, EVICTIONS),
            cache_ttl_s=_check.number("cache_ttl_s", self.cache_ttl_s, low=0.0,
                                      low_open=True, high=31_536_000),
            shards=_check.integer("shards", self.shards, low=1, high=256),
            shard_strategy=_check.choice("shard_strategy", self.shard_strategy,
                                         SHARD_STRATEGIES),
            replicas=_check.integer("replicas", self.replicas, low=0, high=20),
            commit=_check.choice("commit", self.commit, COMMIT_MODES),
            replica_delay_ms=_check.number("replica_delay_ms", self.replica_delay_ms,
                                           low=0.0, high=10_000.0),
            db_query_ms=_check.number("db_query_ms", self.db_query_ms, low=0.0,
                                      low_open=True, high=10_000.0))
        if checked["min_servers"] > checked["max_servers"]:
            raise ValueError(f"min_servers ({self.min_servers}) must be <= max_servers "
                             f"({self.max_servers})")
        if checked["commit"] != "async" and checked["replicas"] == 0:
            raise ValueError(f"commit must be 'async' when replicas=0, got {self.commit!r} "
                             "(it waits for a replica): add a replica or use commit='async'")
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def with_(self, **changes) -> Design:
        """This design with some choices changed (checked again): ``d.with_(replicas=2)``."""
        return _replace(self, **changes)


@dataclass(frozen=True)
class Prices:
    """The price list a design's cost per hour is read from (US$ per hour, on-demand list
    prices of 2024, rounded; any cloud of the same size is within a factor of two).

    ``app_server_per_h`` — a 2-vCPU 8 GB VM (AWS m7i.large $0.10); ``balancer_per_h`` — one
    balancer VM (a small 2-vCPU instance running HAProxy, $0.05); ``proxy_per_h`` — one
    caching-proxy node (nginx/Varnish, priced like an app server) taking up to
    ``proxy_capacity_rps``; ``db_node_per_h`` — one database node, primary or replica
    (AWS RDS db.m7g.xlarge, $0.35); ``cache_node_per_h`` — one cache node (ElastiCache
    cache.r7g.large, 13 GB, $0.22) holding up to ``cache_node_gb``; ``entry_kb`` — one
    cached entry's size.
    """

    app_server_per_h: float = 0.10
    balancer_per_h: float = 0.05
    proxy_per_h: float = 0.10
    proxy_capacity_rps: float = 10_000.0
    db_node_per_h: float = 0.35
    cache_node_per_h: float = 0.22
    cache_node_gb: float = 13.0
    entry_kb: float = 64.0

    def __post_init__(self):
        for name in ("app_server_per_h", "balancer_per_h", "proxy_per_h", "db_node_per_h",
                     "cache_node_per_h"):
            object.__setattr__(self, name, _check.non_negative(name, getattr(self, name)))
        for name in ("proxy_capacity_rps", "cache_node_gb", "entry_kb"):
            object.__setattr__(self, name, _check.positive(name, getattr(self, name)))


def _replace(obj, **changes):
    fields = {f.name for f in dataclasses.fields(obj)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise TypeError(f"unknown choice(s) {unknown}; accepted: {', '.join(sorted(fields))}")
    return dataclasses.replace(obj, **changes)
