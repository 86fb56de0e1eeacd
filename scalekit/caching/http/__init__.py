"""HTTP caching — the first half of notebook 06, by the rules of RFC 9111, RFC 5861 and
RFC 9213, on real HTTP/1.1 over 127.0.0.1.

* :mod:`~scalekit.caching.http.messages` — :class:`Headers`, :class:`Request`,
  :class:`Response`, :class:`Interim`, :class:`OriginUnreachable`;
* :mod:`~scalekit.caching.http.rules` — the rules as pure functions
  (:func:`freshness_lifetime`, :func:`current_age`, :func:`storable`, :func:`weak_match` ...);
* :mod:`~scalekit.caching.http.cache` — :class:`HttpCache`, a browser's private cache or a
  shared proxy/CDN cache (with :mod:`~.entry`, :mod:`~.stores`, :mod:`~.answer` and
  :mod:`~.ranges`: what it stores, where, and how it answers from it);
* :mod:`~scalekit.caching.http.origin`, :mod:`~scalekit.caching.http.proxy` — a real origin
  web server and a real caching proxy in front of it (with :mod:`~.handler` and :mod:`~.wire`,
  the proxy's two sides on the wire, and :mod:`~.loopback`, the server they share);
* :mod:`~scalekit.caching.http.client` — :func:`get` and :class:`ManualClock`;
* :mod:`~scalekit.caching.http.browser` — a visitor returning to a page: hits, 304s, outdated
  pages; :mod:`~scalekit.caching.http.timeline` — stale-while-revalidate on a timeline, and
  the bytes the proxy sends an origin.
"""

from scalekit.caching.http.browser import Browse, browse
from scalekit.caching.http.cache import OUTCOMES, CacheStats, Exchange, HttpCache
from scalekit.caching.http.client import Fetched, ManualClock, get
from scalekit.caching.http.messages import (
    Headers,
    Interim,
    OriginUnreachable,
    Request,
    Response,
)
from scalekit.caching.http.origin import Origin
from scalekit.caching.http.proxy import CachingProxy, ProxyStats, measure_proxy_rps
from scalekit.caching.http.rules import (
    DELTA_SECONDS_CAP,
    HEURISTIC_STATUSES,
    current_age,
    format_http_date,
    freshness_lifetime,
    if_none_match_matches,
    parse_cache_control,
    parse_http_date,
    parse_targeted,
    storable,
    strong_match,
    weak_match,
)
from scalekit.caching.http.timeline import Revalidation, forwarded_request, revalidation_timeline

__all__ = [
    "HttpCache", "CacheStats", "Exchange", "OUTCOMES", "Headers", "Request", "Response",
    "Interim", "OriginUnreachable", "parse_cache_control", "parse_targeted", "parse_http_date",
    "format_http_date", "freshness_lifetime", "current_age", "storable", "weak_match",
    "strong_match", "if_none_match_matches", "HEURISTIC_STATUSES", "DELTA_SECONDS_CAP",
    "Origin", "CachingProxy", "ProxyStats", "measure_proxy_rps", "get", "Fetched",
    "ManualClock", "Browse", "browse", "Revalidation", "revalidation_timeline",
    "forwarded_request",
]
