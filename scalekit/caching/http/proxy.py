"""A real caching HTTP proxy on 127.0.0.1, whose caching decisions are RFC 9111's.

What is modelled: a shared cache between clients and an origin — a forward proxy (what
``curl -x`` talks to: the request line carries the absolute URL, ``GET
http://127.0.0.1:8000/news HTTP/1.1``) or a reverse proxy, a CDN edge in front of one
``upstream`` origin (the request line carries the path, ``GET /news``).

To watch it from a browser, open the proxy's own URL, ``http://127.0.0.1:<proxy port>/``
(reverse-proxy mode: it serves the upstream origin's pages through the cache), and watch
``X-Cache``, ``Age`` and the 304s in the developer tools' network tab. Pointing a browser's
proxy setting at it does not work for a loopback origin: browsers (Chrome since version 72,
Firefox by default) send requests for ``localhost`` and ``127.0.0.1`` directly, never
through a configured proxy. ``curl -x`` does use it, for forward mode.

Each request — any method token, extension methods included — becomes a
:class:`~scalekit.caching.http.Request` (its method, absolute URL, and its end-to-end header
fields) and goes through :meth:`HttpCache.fetch <scalekit.caching.http.HttpCache.fetch>`,
which answers from its store or calls the origin — a real HTTP/1.1 request over a keep-alive
connection per client connection, framed once and read past interim responses
(:mod:`~scalekit.caching.http.handler`, :mod:`~scalekit.caching.http.wire`). The client gets
the cache's response plus ``X-Cache: HIT|MISS|REVALIDATED|REPLACED|PASS|STALE|ERROR`` (what
the cache did), ``X-Cache-Reason`` (why) and ``Via: 1.1 scalekit`` (RFC 9110 §7.6.3). As a
CDN (``targets=("cdn-cache-control",)``) it obeys ``CDN-Cache-Control`` over
``Cache-Control`` (RFC 9213).

Requests it cannot forward faithfully are answered with a status and a one-line reason,
never a silent close: ``400`` for a malformed header line, a folded one (obs-fold, rejected
rather than unfolded, as RFC 9112 §5.2 allows), a NUL byte, more than one ``Host`` line, a
request target that is not printable ASCII or a malformed URL or body framing; ``413`` for a
body over :data:`MAX_BODY_BYTES` (refused before reading it). A ``user:password@`` in an
absolute URL is dropped (RFC 9110 §4.2.4), so it is neither sent in ``Host`` nor part of
the cache key. Forwarded requests carry ``Via: 1.1 scalekit`` too (appended to any ``Via``
they came with).

It is a teaching proxy, not an open one: it only forwards plain ``http://`` to
``allow_hosts`` (127.0.0.1 and localhost unless told otherwise), refuses ``CONNECT`` (no
HTTPS tunnels), binds 127.0.0.1 only and closes itself after ``max_lifetime_s`` seconds. A
client that hangs up mid-answer is counted (``disconnects``), not shouted about.

Units: times in seconds (``*_s``), sizes in bytes (bodies only), throughput in requests/s.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from scalekit import _check, _html
from scalekit.caching.http.cache import Exchange, HttpCache
from scalekit.caching.http.handler import (
    HOP_BY_HOP,
    MAX_BODY_BYTES,
    ProxyHandler,
    Refused,
    authority,
    check_target,
    end_to_end,
)
from scalekit.caching.http.loopback import HOST, LoopbackServer
from scalekit.caching.http.messages import Headers, OriginUnreachable, Request, Response
from scalekit.caching.http.origin import Origin

__all__ = ["CachingProxy", "ProxyStats", "ProxyLogEntry", "HOP_BY_HOP", "DEFAULT_ALLOWED_HOSTS",
           "MAX_BODY_BYTES", "end_to_end", "measure_proxy_rps"]

DEFAULT_ALLOWED_HOSTS = ("127.0.0.1", "localhost")
_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")  # controls and spaces


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ProxyStats(_html.ScalarTable):
    """What the proxy did since it was made or reset.

    ``requests`` it answered, by what the cache did (``hits`` … ``errors``; without a cache
    every forwarded request is ``passed``); ``refused`` it would not forward (bad request,
    forbidden target, CONNECT). ``origin_requests`` and ``origin_bytes`` (body bytes) are what
    it asked of the origins, ``client_bytes`` what it sent its clients (body bytes), and
    ``bytes_saved`` the difference, the origin traffic the cache spared (0 if negative).
    ``disconnects`` counts clients that hung up mid-answer.
    """

    requests: int = 0
    hits: int = 0
    misses: int = 0
    revalidated: int = 0
    replaced: int = 0
    passed: int = 0
    stale: int = 0
    errors: int = 0
    refused: int = 0
    origin_requests: int = 0
    origin_bytes: int = 0
    client_bytes: int = 0
    bytes_saved: int = 0
    disconnects: int = 0

    @property
    def hit_ratio(self) -> float:
        """Hits over answered (not refused) requests; NaN before any."""
        answered = self.requests - self.refused
        return self.hits / answered if answered else float("nan")


class ProxyLogEntry(NamedTuple):
    """One answered request: when (``at``, s since the epoch), what, what the cache did
    (``outcome``, or ``refused``), the status sent and the body bytes sent."""

    at: float
    method: str
    url: str
    outcome: str
    status: int
    bytes: int


_STAT_FOR = {"hit": "hits", "miss": "misses", "revalidated": "revalidated",
             "replaced": "replaced", "pass": "passed", "stale": "stale", "error": "errors",
             "refused": "refused"}


# --------------------------------------------------------------------------- the proxy


class CachingProxy(LoopbackServer):
    """A caching HTTP proxy on 127.0.0.1: ``with CachingProxy(origin.url) as proxy:``.

    ``upstream`` (``http://host:port``, or None) is where origin-form requests (``GET /x``)
    go, as a reverse proxy; absolute-form requests (``GET http://host:port/x``, as ``curl -x``
    sends) go to their own host, as a forward proxy. Either must be in ``allow_hosts``.

    ``cache`` is the :class:`HttpCache` to use; without one, a new one is made with
    ``shared`` (a proxy is a shared cache: it may not store ``private`` pages),
    ``obey_private`` (False misconfigures it to store them anyway) and ``targets`` (the
    targeted cache-control fields it obeys, in order: ``("cdn-cache-control",)`` for a CDN,
    RFC 9213; ``"surrogate-control"`` for a reverse proxy that obeys ``Surrogate-Control`` —
    it then sends ``Surrogate-Capability: scalekit="Surrogate/1.0"`` upstream, and a directive
    ending ``;scalekit`` is for it).
    ``caching=False`` forwards everything (outcome ``pass``), to measure what the cache is worth.
    ``timeout_s`` (s) bounds each origin request; ``max_lifetime_s`` (s) the proxy's life;
    ``port`` 0 picks a free one; ``log_size`` is how many recent requests :attr:`log` keeps;
    ``clock`` stamps the log (seconds since the epoch).
    """

    handler = ProxyHandler

    def __init__(self, upstream: str | None = None, *, cache: HttpCache | None = None,
                 caching: bool = True, shared: bool = True, obey_private: bool = True,
                 targets: Iterable[str] = (),
                 allow_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS, timeout_s: float = 10.0,
                 max_lifetime_s: float = 3600.0, port: int = 0, log_size: int = 1000,
                 clock: Callable[[], float] = time.time):
        super().__init__(port=port, max_lifetime_s=max_lifetime_s, clock=clock)
        if isinstance(allow_hosts, str):
            raise TypeError(f"allow_hosts must be a collection of host names, not the "
                            f"string {allow_hosts!r}; write ({allow_hosts!r},)")
        if isinstance(allow_hosts, Mapping) or not isinstance(allow_hosts, Iterable) or not all(
                isinstance(h, str) and h for h in allow_hosts):
            raise TypeError(f"allow_hosts must be a collection of host names (str), got "
                            f"{allow_hosts!r}")
        if not tuple(allow_hosts):
            raise ValueError("allow_hosts must name at least one host (the proxy would "
                             "refuse every request)")
        self.allow_hosts = tuple(str(h).lower() for h in allow_hosts)
        if upstream is not None:
            if not isinstance(upstream, str):
                raise TypeError(f"upstream must be a URL string like 'http://127.0.0.1:8000'"
                                f" or None, got {upstream!r}")
            try:
                check_target(upstream, self.allow_hosts)
            except Refused as refused:
                raise ValueError(f"upstream {upstream!r}: {refused.why}") from None
            upstream = upstream.rstrip("/")
        self.upstream = upstream
        self.caching = _check.boolean("caching", caching)
        if cache is not None and not isinstance(cache, HttpCache):
            raise TypeError(f"cache must be an HttpCache or None, got {type(cache).__name__}")
        if cache is not None and not self.caching:
            raise ValueError("cache was given but caching=False; pass one or the other")
        if cache is not None and tuple(targets):
            raise ValueError("targets were given with a cache; give the cache its targets")
        self.cache = cache if cache is not None or not self.caching else HttpCache(
            shared=_check.boolean("shared", shared),
            obey_private=_check.boolean("obey_private", obey_private), targets=targets)
        #: A surrogate (a reverse proxy obeying Surrogate-Control) announces itself to the
        #: origin with Surrogate-Capability.
        self.surrogate = self.cache is not None and "surrogate-control" in self.cache.targets
        self.timeout_s = _check.positive("timeout_s", timeout_s)
        self.log: deque[ProxyLogEntry] = deque(
            maxlen=_check.integer("log_size", log_size, low=0))
        self._stats_lock = threading.Lock()
        self._counts = self._zero()

    # ---------------------------------------------------------------- deciding

    def target_url(self, target: str) -> str:
        """The absolute URL a request target stands for, if this proxy may fetch it, without
        any ``user:password@`` (dropped, RFC 9110 §4.2.4: so it is neither sent in ``Host``
        nor part of the cache key)."""
        _check.text("target", target)
        if not target.isascii() or _BAD_TARGET.search(target):
            raise Refused(400, f"request target {target[:100]!r} is not printable ASCII: "
                                "percent-encode other characters (RFC 3986)")
        if target.startswith("/"):
            if self.upstream is None:
                raise Refused(400, "this proxy has no upstream: send the absolute URL "
                                    "(curl -x PROXY http://127.0.0.1:PORT/path) or start it "
                                    "with an upstream")
            return self.upstream + target
        if "://" not in target:
            raise Refused(400, f"malformed request target {target[:100]!r}")
        parts = check_target(target, self.allow_hosts)
        return urllib.parse.urlunsplit(("http", authority(parts), parts.path or "/",
                                        parts.query, ""))

    def exchange(self, request: Request, origin: Callable[[Request], Response]) -> Exchange:
        """The cache's answer, or, without a cache, the origin's (outcome ``pass``)."""
        if self.cache is not None:
            return self.cache.fetch(request, origin)
        try:
            response = origin(request)
        except OriginUnreachable as exc:
            timed_out = "timed out" in str(exc)
            text = f"{exc}\n".encode()
            headers = Headers([("Content-Type", "text/plain; charset=utf-8"),
                               ("Cache-Control", "no-store")])
            return Exchange(response=Response(504 if timed_out else 502, headers, text),
                            outcome="error", reason=str(exc), origin_requests=1,
                            origin_bytes=0, age_s=None)
        return Exchange(response=response, outcome="pass", reason="caching is off",
                        origin_requests=1, origin_bytes=len(response.body), age_s=None)

    # ---------------------------------------------------------------- counting

    @staticmethod
    def _zero() -> dict[str, int]:
        return {name: 0 for name in ProxyStats.__dataclass_fields__ if name not in
                ("bytes_saved", "disconnects")}

    def record(self, request: Request, exchange: Exchange, sent: int) -> None:
        """Count one answered request and log it."""
        stat = _STAT_FOR.get(exchange.outcome, "errors")
        with self._stats_lock:
            counts = self._counts
            counts["requests"] += 1
            counts[stat] += 1
            counts["origin_requests"] += exchange.origin_requests
            counts["origin_bytes"] += exchange.origin_bytes
            counts["client_bytes"] += sent
            self.log.append(ProxyLogEntry(self.clock(), request.method, request.url,
                                          exchange.outcome, exchange.response.status, sent))

    def record_refusal(self, method: str, target: str, status: int, sent: int) -> None:
        with self._stats_lock:
            self._counts["requests"] += 1
            self._counts["refused"] += 1
            self._counts["client_bytes"] += sent
            self.log.append(ProxyLogEntry(self.clock(), method, target[:200], "refused",
                                          status, sent))

    @property
    def stats(self) -> ProxyStats:
        """What it did since it was made or :meth:`reset_stats` was called."""
        with self._stats_lock:
            counts = dict(self._counts)
        saved = max(0, counts["client_bytes"] - counts["origin_bytes"])
        return ProxyStats(**counts, bytes_saved=saved, disconnects=self.disconnects)

    def reset_stats(self) -> None:
        """Set the counts to zero and empty the log (the cache keeps what it stored)."""
        with self._stats_lock:
            self._counts = self._zero()
            self.log.clear()
        with self._disconnects_lock:
            self._disconnects = 0

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "not running"
        mode = f"upstream {self.upstream}" if self.upstream else "forward proxy"
        return f"CachingProxy({mode}, caching={self.caching}, {state})"


# --------------------------------------------------------------------------- benchmark


def _drive(port: int, path: str, count: int, keep_alive: bool, errors: list) -> None:
    conn = None
    for _ in range(count):
        try:
            if conn is None:
                conn = http.client.HTTPConnection(HOST, port, timeout=10)
            conn.request("GET", path, headers={} if keep_alive else {"Connection": "close"})
            answer = conn.getresponse()
            answer.read()
            if answer.status >= 400:
                errors.append(answer.status)
            if not keep_alive or answer.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            errors.append(exc)
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def measure_proxy_rps(path: str = "/", *, requests: int = 2000, concurrency: int = 4,
                      caching: bool = True, keep_alive: bool = True,
                      origin_delay_ms: float = 0.0, home_max_age_s: float = 3600.0,
                      via_proxy: bool = True) -> float:
    """Requests per second through a :class:`CachingProxy` in front of an :class:`Origin`.

    Starts both (in this process, on 127.0.0.1), sends one warm-up request (with caching on,
    it fills the cache), then ``concurrency`` threads send ``requests`` GETs of ``path`` in
    all, each over its own keep-alive connection (``keep_alive=False``: a new connection per
    request). Returns completed requests over the wall-clock time (requests/s).

    What it measures: the whole path — client, proxy and origin all run in this Python
    process and share its GIL, so the number is a comparison, not a capacity: with
    ``caching=True`` a fresh page is served by the proxy alone; with ``caching=False``
    every request also crosses to the origin (a second HTTP exchange, plus
    ``origin_delay_ms`` ms of the origin's time); with ``via_proxy=False`` the clients talk
    to the origin directly (the baseline). RuntimeError if any request failed.
    """
    requests = _check.integer("requests", requests, low=1, high=1_000_000)
    concurrency = _check.integer("concurrency", concurrency, low=1, high=64)
    origin_delay_ms = _check.number("origin_delay_ms", origin_delay_ms, low=0.0, high=1000.0)
    via_proxy = _check.boolean("via_proxy", via_proxy)
    caching = _check.boolean("caching", caching)
    keep_alive = _check.boolean("keep_alive", keep_alive)
    home_max_age_s = _check.number("home_max_age_s", home_max_age_s, low=0.0, high=86_400.0)
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path must be a URL path starting with '/', got {path!r}")
    with Origin(delay_ms=origin_delay_ms, home_max_age_s=home_max_age_s,
                max_lifetime_s=600.0) as origin, \
            CachingProxy(origin.url, caching=caching, max_lifetime_s=600.0) as proxy:
        errors: list = []
        port = proxy.port if via_proxy else origin.port
        _drive(port, path, 1, keep_alive, errors)  # warm-up
        shares = [requests // concurrency + (i < requests % concurrency)
                  for i in range(concurrency)]
        threads = [threading.Thread(target=_drive, args=(port, path, n, keep_alive, errors),
                                    daemon=True)
                   for n in shares if n]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} of {requests} requests failed, e.g. {errors[0]!r}")
    return requests / elapsed
