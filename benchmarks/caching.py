"""Caching: the in-process caches' lookups per second, and requests per second through the
caching proxy (hit, miss, 304 revalidation) against requests straight to the same origin on
127.0.0.1, measured in the same run; then the RFC behaviours the tests check.

Lookups (hits, a warm cache of 10,000 keys, Zipf-like keys drawn beforehand):

* ``scalekit.caching.Cache`` (exact LRU, ``allkeys-lru``) ``get`` against the peer every
  Python programmer has, :func:`functools.lru_cache` (a C implementation), and a plain
  ``dict.get`` as the floor — same keys, same order, ratios printed;
* ``HttpCache.fetch`` of a fresh stored response: the RFC 9111 decision is made afresh for
  every request (age, lifetime, an answer with an ``Age`` header); the stored response's
  headers are parsed once, when it is stored. About ten microseconds, far below an HTTP
  exchange.

Proxy: client threads, proxy and origin all run in this process and share its GIL, so the
numbers compare settings rather than give a capacity. The origin answers at once (0 ms) or
after 5 ms, like an application rendering a page. "direct" is the same clients talking to
the origin with no proxy: the ratio through the proxy over direct is the proxy's cost (a
miss: one more HTTP exchange) or gain (a hit: the origin is not asked).
"""

from __future__ import annotations

import functools
import statistics
import time

import numpy as np

KEYS = 10_000
LOOKUPS = 500_000


def _keys() -> list[int]:
    rng = np.random.default_rng(0)
    ranks = np.arange(1, KEYS + 1, dtype=float) ** -0.9
    return rng.choice(KEYS, size=LOOKUPS, p=ranks / ranks.sum()).tolist()


def _best_rate(run, repeats: int = 5) -> float:
    """Lookups per second: the best of ``repeats`` timed passes (the least disturbed)."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        n = run()
        rates.append(n / (time.perf_counter() - start))
    return max(rates)


def lookups() -> dict[str, float]:
    from scalekit import caching

    keys = _keys()
    cache = caching.Cache(KEYS, "allkeys-lru")
    for k in range(KEYS):
        cache.set(k, k)
    get = cache.get

    def scalekit_lru():
        for k in keys:
            get(k)
        return len(keys)

    @functools.lru_cache(maxsize=KEYS)
    def peer(k):
        return k

    for k in range(KEYS):
        peer(k)

    def functools_lru():
        for k in keys:
            peer(k)
        return len(keys)

    table = {k: k for k in range(KEYS)}
    dget = table.get

    def plain_dict():
        for k in keys:
            dget(k)
        return len(keys)

    http = caching.HttpCache(shared=True)
    page = caching.Response(200, {"Cache-Control": "max-age=3600", "ETag": '"v1"',
                                  "Date": caching.format_http_date(time.time())}, b"x" * 1000)
    request = caching.Request("GET", "http://127.0.0.1/page")
    http.fetch(request, lambda r: page)  # fill

    def http_fetch():
        n = 20_000
        for _ in range(n):
            http.fetch(request, lambda r: page)
        return n

    out = {"scalekit Cache.get (LRU)": _best_rate(scalekit_lru),
           "functools.lru_cache": _best_rate(functools_lru),
           "dict.get": _best_rate(plain_dict),
           "HttpCache.fetch (fresh hit)": _best_rate(http_fetch)}
    assert http.stats.hits == http.stats.requests - 1  # every timed fetch was a hit
    return out


CONFORMANCE = (
    "RFC 9111 §3 storing (any final status with explicit freshness, private, Authorization, "
    "no-store, must-understand §5.2.2.3), §3.1/§3.2 stored and 304-updated fields, §3.3-3.4 "
    "206 parts stored and combined, §4.1 Vary (Accept-Language normalised), §4.2 freshness "
    "(s-maxage, max-age, Expires strict §5.3, heuristic), §4.2.3 Age, §4.2.4 serving stale, "
    "§4.3 validation (304 selection §4.3.4, client conditions §4.3.2, HEAD §4.3.5), §4.4 "
    "invalidation (extension methods, Location/Content-Location, not on failure), §5.2 "
    "request directives; RFC 5861 stale-while-revalidate and stale-if-error; RFC 9213 "
    "CDN-Cache-Control (targets); RFC 9110 §13.1.5 If-Range, §13.2.2 precedence, §14 ranges "
    "(206, 416); RFC 9112 §6 one framing per message both ways, interim 1xx read past "
    "(tests/test_caching_behaviours.py, test_caching_strict.py, test_caching_http.py, "
    "test_caching_rfc.py, test_caching_proxy.py)")


def proxy(requests: int = 2000) -> dict[str, float]:
    from scalekit.caching import measure_proxy_rps

    cases = {"direct to the origin": dict(via_proxy=False, caching=False),
             "through the proxy, hit": dict(caching=True),
             "through the proxy, miss (every request forwarded)": dict(caching=False),
             "through the proxy, 304 revalidation (/news)": dict(caching=True)}
    out = {}
    for delay in (0.0, 5.0):
        for name, kwargs in cases.items():
            path = "/news" if "/news" in name else "/"
            runs = [measure_proxy_rps(path, requests=requests, concurrency=4,
                                      origin_delay_ms=delay, **kwargs) for _ in range(3)]
            out[(delay, name)] = statistics.median(runs)
    return out


def main() -> dict:
    start = time.perf_counter()
    rates = lookups()
    print(f"\nCache lookups per second (hits, {KEYS:,} keys, {LOOKUPS:,} Zipf lookups; best of 5)")
    peer = rates["functools.lru_cache"]
    for name, rate in rates.items():
        print(f"  {name:<30}{rate / 1e3:10,.0f} k/s   {rate / peer:6.3f}× functools.lru_cache")
    rps = proxy()
    print("\nRequests per second, same run (median of 3 runs of 2,000 GETs, 4 keep-alive "
          "clients; client, proxy and origin share one Python process)")
    for delay in (0.0, 5.0):
        direct = rps[(delay, "direct to the origin")]
        print(f"  origin answers in {delay:.0f} ms:")
        for (d, name), rate in rps.items():
            if d == delay:
                print(f"    {name:<52}{rate:8.0f}/s   {rate / direct:5.2f}× direct")
    print(f"\nConformance covered by the tests: {CONFORMANCE}")
    print(f"  ({time.perf_counter() - start:.1f} s)")
    return {"lookups": rates, "proxy": rps}
