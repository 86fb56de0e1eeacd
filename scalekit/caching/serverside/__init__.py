"""Server-side caching — the second half of notebook 06: a cache beside the application, in
front of a real SQLite database.

* :mod:`~scalekit.caching.serverside.store` — :class:`Cache` with Redis's eviction policies
  and TTLs;
* :mod:`~scalekit.caching.serverside.aside` — cache-aside over the airline data: hit ratio
  by size and policy, against Che's approximation;
* :mod:`~scalekit.caching.serverside.ttl` — the TTL trade-off between database load and
  stale reads;
* :mod:`~scalekit.caching.serverside.invalidation` — delete, update or write-through on a
  write, and the races each allows (leases, as in "Scaling Memcache at Facebook");
* :mod:`~scalekit.caching.serverside.stampede` — the thundering herd on a hot key,
  coalescing and leases.
"""

from scalekit.caching.serverside.aside import (
    CacheAside,
    airline_db,
    che_lru_hit_ratio,
    che_random_hit_ratio,
    hit_ratio_curve,
    lfu_hit_ratio,
    theory_curve,
    zipf_popularities,
)
from scalekit.caching.serverside.common import INVALIDATIONS
from scalekit.caching.serverside.invalidation import InvalidationRace, invalidation_race
from scalekit.caching.serverside.stampede import Herd, expected_db_per_expiry, herd
from scalekit.caching.serverside.store import POLICIES, Cache, CacheFull
from scalekit.caching.serverside.ttl import TtlTradeoff, ttl_single_key, ttl_tradeoff

__all__ = [
    "Cache", "CacheFull", "POLICIES", "CacheAside", "airline_db", "zipf_popularities",
    "che_lru_hit_ratio", "che_random_hit_ratio", "lfu_hit_ratio", "theory_curve",
    "hit_ratio_curve", "TtlTradeoff", "ttl_single_key", "ttl_tradeoff", "INVALIDATIONS",
    "InvalidationRace", "invalidation_race", "Herd", "herd", "expected_db_per_expiry",
]
