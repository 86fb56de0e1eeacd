"""Two small demonstrations for notebook 06: stale-while-revalidate on a timeline, and the
exact bytes the proxy sends an origin.

:func:`revalidation_timeline` — a page with ``Cache-Control: max-age=M,
stale-while-revalidate=W`` (RFC 5861 §3) visited at given times through a real
:class:`~scalekit.caching.http.cache.HttpCache` on a simulated clock. Each visit is *fresh*
(age < M: a hit), *stale but served* (M ≤ age < M + W: served at once, and a background
validation freshens the copy for the next visitor) or *validated* (age ≥ M + W, or nothing
stored: the visitor waits for the origin). The background job runs right after the stale
answer is made (``background=lambda job: job()``), so the run is deterministic.

:func:`forwarded_request` — what reaches an origin when a client sends a request through a
:class:`~scalekit.caching.http.proxy.CachingProxy`: the raw request head, byte for byte,
captured by a one-request socket listener on 127.0.0.1 — to count its Content-Length lines.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html
from scalekit.caching.http.cache import HttpCache
from scalekit.caching.http.messages import Headers, Request, Response
from scalekit.caching.http.rules import format_http_date

__all__ = ["Revalidation", "revalidation_timeline", "forwarded_request", "KINDS"]

#: What each visit was: served fresh, served stale (revalidating behind), or waited for.
KINDS = ("fresh", "stale-served", "waited")
_START = 1_700_000_000.0


@dataclass(frozen=True, eq=False, repr=False)
class Revalidation(_html.ScalarTable):
    """Per visit: ``times_s`` (s since the first), ``kinds`` (from :data:`KINDS`), the
    served copy's ``ages_s`` and ``versions`` (the origin's version number when that copy
    was made); ``origin_times_s`` when the origin was asked (background validations
    included). Totals below."""

    max_age_s: float
    window_s: float
    visits: int
    fresh: int
    stale_served: int
    waited: int
    origin_requests: int
    times_s: np.ndarray = field(repr=False)
    kinds: np.ndarray = field(repr=False)
    ages_s: np.ndarray = field(repr=False)
    versions: np.ndarray = field(repr=False)
    origin_times_s: np.ndarray = field(repr=False)


def revalidation_timeline(max_age_s: float = 10, window_s: float = 30, *,
                          visit_times_s: Sequence[float] = (0, 4, 12, 14, 30, 45, 58, 100, 104),
                          change_every_s: float = 20) -> Revalidation:
    """Visit a ``max-age=max_age_s, stale-while-revalidate=window_s`` page (whole seconds)
    at ``visit_times_s`` (s, increasing); the origin's page changes version every
    ``change_every_s`` seconds. See the module."""
    max_age = _check.integer("max_age_s", max_age_s, low=0, high=86_400)
    window = _check.integer("window_s", window_s, low=0, high=86_400)
    change = _check.positive("change_every_s", change_every_s)
    times = _check.array("visit_times_s", visit_times_s, low=0.0, min_len=1)
    if times.size > 10_000 or np.any(np.diff(times) < 0):
        raise ValueError("visit_times_s must be at most 10,000 increasing times (s), got "
                         f"{times.size} values")
    now = [_START]
    asked: list[float] = []

    def origin(request: Request) -> Response:
        asked.append(now[0] - _START)
        version = int((now[0] - _START) // change)
        headers = Headers([("Date", format_http_date(now[0])), ("X-Version", str(version)),
                           ("Cache-Control",
                            f"max-age={max_age}, stale-while-revalidate={window}")])
        return Response(200, headers, f"version {version}".encode())

    cache = HttpCache(shared=True, clock=lambda: now[0], background=lambda job: job())
    kinds, ages, versions = [], [], []
    for t in times:
        now[0] = _START + float(t)
        ex = cache.fetch(Request("GET", "http://origin/page"), origin)
        kinds.append("fresh" if ex.outcome == "hit" else
                     "stale-served" if ex.outcome == "stale" else "waited")
        ages.append(ex.age_s if ex.age_s is not None else 0.0)
        versions.append(int(ex.response.headers.get("X-Version")))
    arrays = [np.asarray(a) for a in (times, kinds, ages, versions, asked)]
    for a in arrays:
        a.setflags(write=False)
    k = arrays[1]
    return Revalidation(max_age_s=max_age, window_s=window, visits=int(times.size),
                        fresh=int((k == "fresh").sum()),
                        stale_served=int((k == "stale-served").sum()),
                        waited=int((k == "waited").sum()), origin_requests=len(asked),
                        times_s=arrays[0], kinds=k, ages_s=arrays[2], versions=arrays[3],
                        origin_times_s=arrays[4])


def forwarded_request(method: str = "PUT", body: bytes = b"seat=12A",
                      timeout_s: float = 5.0) -> str:
    """The request head an origin receives when a client sends ``method`` with ``body``
    (and its own ``Content-Length``) through a caching proxy — as text, one field a line."""
    from scalekit.caching.http.proxy import CachingProxy  # the proxy needs this package

    _check.text("method", method, max_len=32)
    if not re.fullmatch(r"[A-Z]+", method):
        raise ValueError(f"method must be an HTTP method in capitals (PUT, POST …), got "
                         f"{method!r}")
    if not isinstance(body, bytes):
        raise TypeError(f"body must be bytes, got {type(body).__name__}")
    timeout = _check.number("timeout_s", timeout_s, low=0.0, low_open=True, high=60.0)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(timeout)
    captured: list[bytes] = []

    def serve():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(timeout)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            captured.append(data.split(b"\r\n\r\n", 1)[0])
            conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        with CachingProxy(f"http://127.0.0.1:{port}", max_lifetime_s=60.0) as proxy:
            client = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=timeout)
            try:
                client.request(method, "/booking", body=body)
                client.getresponse().read()
            finally:
                client.close()
        thread.join(timeout)
    finally:
        listener.close()
    return captured[0].decode("latin-1").replace("\r\n", "\n") if captured else ""
