"""Caching: keep an answer close to whoever will ask again — notebook 06's two halves.

* :mod:`scalekit.caching.http` — HTTP caching by the rules of RFC 9111 (with RFC 5861 and
  RFC 9213): :class:`HttpCache`, the rules as pure functions, a real origin server and a
  real caching proxy on 127.0.0.1 (``python -m scalekit.caching demo``), a client, and a
  browser revisiting a page;
* :mod:`scalekit.caching.serverside` — server-side caches in front of a real SQLite
  database: Redis-like eviction and TTLs, cache-aside and its hit ratio against theory, the
  TTL trade-off, invalidation races, the thundering herd.

Every public name the notebook uses is re-exported here: ``from scalekit import caching``.
"""

from scalekit.caching.http import (
    OUTCOMES,
    Browse,
    CachingProxy,
    Exchange,
    Fetched,
    Headers,
    HttpCache,
    ManualClock,
    Origin,
    OriginUnreachable,
    Request,
    Response,
    Revalidation,
    browse,
    current_age,
    format_http_date,
    forwarded_request,
    freshness_lifetime,
    get,
    if_none_match_matches,
    measure_proxy_rps,
    parse_cache_control,
    parse_http_date,
    revalidation_timeline,
    storable,
    weak_match,
)
from scalekit.caching.serverside import (
    INVALIDATIONS,
    POLICIES,
    Cache,
    CacheAside,
    CacheFull,
    Herd,
    InvalidationRace,
    TtlTradeoff,
    airline_db,
    che_lru_hit_ratio,
    che_random_hit_ratio,
    expected_db_per_expiry,
    herd,
    hit_ratio_curve,
    invalidation_race,
    lfu_hit_ratio,
    theory_curve,
    ttl_single_key,
    ttl_tradeoff,
    zipf_popularities,
)

__all__ = [
    "HttpCache", "Headers", "Request", "Response", "Exchange", "OriginUnreachable", "OUTCOMES",
    "parse_cache_control", "parse_http_date", "format_http_date", "freshness_lifetime",
    "current_age", "storable", "weak_match", "if_none_match_matches",
    "Origin", "CachingProxy", "measure_proxy_rps", "get", "Fetched", "ManualClock",
    "Browse", "browse", "Revalidation", "revalidation_timeline", "forwarded_request",
    "Cache", "CacheFull", "POLICIES", "CacheAside", "airline_db", "zipf_popularities",
    "che_lru_hit_ratio", "che_random_hit_ratio", "lfu_hit_ratio", "theory_curve",
    "hit_ratio_curve", "TtlTradeoff", "ttl_single_key", "ttl_tradeoff", "INVALIDATIONS",
    "InvalidationRace", "invalidation_race", "Herd", "herd", "expected_db_per_expiry",
]
