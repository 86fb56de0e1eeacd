"""The client's side: one real HTTP GET (directly, or through a proxy as a browser sends
it), and a clock a notebook can move forward instead of sleeping.

:func:`get` speaks plain HTTP/1.1 with :mod:`http.client` — through a proxy it sends the
absolute-form request target (``GET http://127.0.0.1:8000/ HTTP/1.1``, RFC 9112 §3.2.2),
exactly what ``curl -x`` and a browser configured with an HTTP proxy send. Every status is
returned as it came (a 304 or a 404 is an answer, not an exception), with what the proxy's
cache did (its ``X-Cache`` and ``X-Cache-Reason`` headers). A response header field sent on
several lines is combined into one value joined with ", " (RFC 9110 §5.3), except
``Set-Cookie``, whose values may themselves contain commas: its lines are joined with "\n".

:class:`ManualClock` is a callable returning seconds since the epoch that only moves when
told: hand the same clock to an :class:`~scalekit.caching.origin.Origin` and an
:class:`~scalekit.caching.http.HttpCache`, and "a minute later" takes no time at all.
"""

from __future__ import annotations

import http.client
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from scalekit import _check, _html

__all__ = ["Fetched", "ManualClock", "get"]


class ManualClock:
    """Seconds since the epoch, starting at ``start`` (default: now, in whole seconds, so
    the dates an origin writes are believable), moved only by :meth:`advance`."""

    def __init__(self, start: float | None = None):
        self.now = float(int(time.time())) if start is None else _check.positive("start", start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` (≥ 0) forward."""
        self.now += _check.non_negative("seconds", seconds)

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now:.0f})"


@dataclass(frozen=True, eq=False, repr=False)
class Fetched(_html.ScalarTable):
    """One answer: ``status``; ``cache`` — what the proxy's cache did (``HIT``, ``MISS``,
    ``REVALIDATED`` …, or ``""`` when no cache was asked) and its ``reason``; the response's
    ``cache_control``, ``etag`` and ``age`` headers (``""`` when absent); ``bytes`` of body.
    ``headers`` (name → value; repeated fields combined with ", ", ``Set-Cookie`` lines
    joined with "\n") and ``body`` are kept but not shown."""

    url: str
    status: int
    cache: str
    reason: str
    cache_control: str
    etag: str
    age: str
    bytes: int
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.body.decode("utf-8", "replace")


def _host_port(url: str, name: str) -> tuple[str, int]:
    """The host and port of the http:// URL given as parameter ``name``; ValueError naming
    ``name`` if it is malformed, not ASCII or its port is out of range."""
    example = "an http:// URL such as 'http://127.0.0.1:8000/'"
    if not url.isascii():
        raise ValueError(f"{name} must be ASCII (percent-encode other characters), "
                         f"got {url!r}")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:  # an unclosed [ or a port that is not 0-65535
        raise ValueError(f"{name} must be {example}, got {url!r}: {exc}") from None
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"{name} must be {example}, got {url!r}")
    return parts.hostname, port or 80


def _combined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Header fields as one value per name (spelt as first seen): repeated lines joined
    with ", " (RFC 9110 §5.3), ``Set-Cookie`` lines with "\n" (their values hold commas)."""
    spelling: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        key = spelling.setdefault(name.lower(), name)
        values.setdefault(key, []).append(value)
    return {name: ("\n" if name.lower() == "set-cookie" else ", ").join(parts)
            for name, parts in values.items()}


def get(url: str, *, via=None, headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0) -> Fetched:
    """GET ``url`` — through the proxy ``via`` (a :class:`~scalekit.caching.proxy.
    CachingProxy`, or its URL) if given, else directly — with extra request ``headers``
    (for example ``{"Cookie": "user=alice"}``). Waits at most ``timeout_s`` seconds."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a string such as 'http://127.0.0.1:8000/', got {url!r}")
    _host_port(url, "url")
    if headers is not None and not isinstance(headers, Mapping):
        raise TypeError(f"headers must be a mapping of header names to values, got "
                        f"{type(headers).__name__}")
    timeout = _check.positive("timeout_s", timeout_s)
    if via is None:
        host, port = _host_port(url, "url")
        parts = urllib.parse.urlsplit(url)
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    else:
        proxy_url = via if isinstance(via, str) else getattr(via, "url", None)
        if not isinstance(proxy_url, str):
            raise TypeError(f"via must be a CachingProxy or a proxy URL, got "
                            f"{type(via).__name__}")
        host, port = _host_port(proxy_url, "via")
        target = url  # absolute form: what a client sends to a proxy
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", target, headers=dict(headers or {}))
        resp = conn.getresponse()
        body = resp.read()
        fields = _combined(resp.getheaders())
    except (OSError, http.client.HTTPException) as exc:
        raise ConnectionError(f"GET {url} failed: {exc}") from exc
    finally:
        conn.close()
    lower = {name.lower(): value for name, value in fields.items()}
    return Fetched(url=url, status=resp.status, cache=lower.get("x-cache", ""),
                   reason=lower.get("x-cache-reason", ""),
                   cache_control=lower.get("cache-control", ""), etag=lower.get("etag", ""),
                   age=lower.get("age", ""), bytes=len(body), headers=fields, body=body)
