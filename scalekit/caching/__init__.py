"""Caching: keep an answer close to whoever will ask again.

HTTP caches, by the rules of RFC 9111 (real HTTP on 127.0.0.1):

* :mod:`~scalekit.caching.http` — :class:`HttpCache`, a browser's private cache or a shared
  proxy/CDN cache: store, reuse, revalidate (ETag, 304), and the rules as pure functions
  (:func:`freshness_lifetime`, :func:`current_age`, :func:`storable`, :func:`weak_match`);
* :mod:`~scalekit.caching.origin` and :mod:`~scalekit.caching.proxy` — a real origin web
  server and a real caching HTTP proxy in front of it (``python -m scalekit.caching demo``);
* :mod:`~scalekit.caching.client` — :func:`get` (one real GET, through a proxy or not) and
  :class:`ManualClock` (time a notebook moves by hand);
* :mod:`~scalekit.caching.browser` — a visitor returning to a page: hits, 304s, outdated pages.

Server-side caches, in front of a real SQLite database:

* :mod:`~scalekit.caching.store` — :class:`Cache` with Redis's eviction policies and TTLs;
* :mod:`~scalekit.caching.aside` — cache-aside over the airline data: hit ratio by size and
  policy, against Che's approximation;
* :mod:`~scalekit.caching.ttl` — the TTL trade-off between database load and stale reads;
* :mod:`~scalekit.caching.invalidation` — delete, update or write-through on a write, and the
  races each allows (leases, as in "Scaling Memcache at Facebook");
* :mod:`~scalekit.caching.stampede` — the thundering herd on a hot key, coalescing and leases.
"""

from scalekit.caching.aside import (
    CacheAside,
    airline_db,
    che_lru_hit_ratio,
    che_random_hit_ratio,
    hit_ratio_curve,
    lfu_hit_ratio,
    theory_curve,
    zipf_popularities,
)
from scalekit.caching.browser import Browse, browse
from scalekit.caching.client import Fetched, ManualClock, get
from scalekit.caching.http import (
    OUTCOMES,
    Exchange,
    Headers,
    HttpCache,
    OriginUnreachable,
    Request,
    Response,
    current_age,
    format_http_date,
    freshness_lifetime,
    if_none_match_matches,
    parse_cache_control,
    parse_http_date,
    storable,
    weak_match,
)
from scalekit.caching.invalidation import INVALIDATIONS, InvalidationRace, invalidation_race
from scalekit.caching.origin import Origin
from scalekit.caching.proxy import CachingProxy, measure_proxy_rps
from scalekit.caching.stampede import Herd, expected_db_per_expiry, herd
from scalekit.caching.store import POLICIES, Cache, CacheFull
from scalekit.caching.ttl import TtlTradeoff, ttl_single_key, ttl_tradeoff

__all__ = [
    "HttpCache", "Headers", "Request", "Response", "Exchange", "OriginUnreachable", "OUTCOMES",
    "parse_cache_control", "parse_http_date", "format_http_date", "freshness_lifetime",
    "current_age", "storable", "weak_match", "if_none_match_matches",
    "Origin", "CachingProxy", "measure_proxy_rps", "get", "Fetched", "ManualClock",
    "Browse", "browse",
    "Cache", "CacheFull", "POLICIES", "CacheAside", "airline_db", "zipf_popularities",
    "che_lru_hit_ratio", "che_random_hit_ratio", "lfu_hit_ratio", "theory_curve",
    "hit_ratio_curve", "TtlTradeoff", "ttl_single_key", "ttl_tradeoff", "INVALIDATIONS",
    "InvalidationRace", "invalidation_race", "Herd", "herd", "expected_db_per_expiry",
]
