"""Caching: the in-process caches' lookups per second, and the caching proxy's requests per
second with and without its cache against the same origin on 127.0.0.1.

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
after 5 ms, like an application rendering a page.
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


def proxy(requests: int = 2000) -> dict[str, float]:
    from scalekit.caching import measure_proxy_rps

    out = {}
    for delay in (0.0, 5.0):
        for on in (True, False):
            runs = [measure_proxy_rps("/", requests=requests, concurrency=4, caching=on,
                                      origin_delay_ms=delay) for _ in range(3)]
            out[(delay, on)] = statistics.median(runs)
    return out


def main() -> dict:
    start = time.perf_counter()
    rates = lookups()
    print(f"\nCache lookups per second (hits, {KEYS:,} keys, {LOOKUPS:,} Zipf lookups; best of 5)")
    peer = rates["functools.lru_cache"]
    for name, rate in rates.items():
        print(f"  {name:<30}{rate / 1e3:10,.0f} k/s   {rate / peer:6.3f}× functools.lru_cache")
    rps = proxy()
    print("\nCaching proxy, requests per second (median of 3 runs of 2,000 GETs of '/', "
          "4 keep-alive clients)")
    for delay in (0.0, 5.0):
        on, off = rps[(delay, True)], rps[(delay, False)]
        print(f"  origin answers in {delay:.0f} ms: with cache {on:7.0f}/s, without "
              f"{off:7.0f}/s, ratio {on / off:5.2f}×")
    print(f"  ({time.perf_counter() - start:.1f} s)")
    return {"lookups": rates, "proxy": rps}
