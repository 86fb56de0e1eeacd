"""An HTTP cache by the rules of RFC 9111 — the logic only, no sockets.

A cache sits between clients and an origin server. For each request it looks up a stored
response by the request's method and URL (its *primary key*) and by the request headers the
stored response's ``Vary`` names (its *secondary key*, §4.1). A stored response is *fresh*
while its current age is below its freshness lifetime (§4.2); both, and whether a response
may be stored at all (§3), are computed by the pure rules in :mod:`scalekit.caching.rfc`,
whose names (and the message types ``Headers``, ``Request``, ``Response``) this module
re-exports.

A fresh response is served at once (a *hit*). A stale one — or any with ``no-cache`` — is
*validated*: the cache asks the origin ``If-None-Match: <ETag>`` / ``If-Modified-Since:
<Last-Modified>`` and, on ``304 Not Modified``, serves its copy with the headers the 304
brought (§4.3) — if the 304's validator selects that copy (§4.3.4); if not, it asks again
unconditionally and takes the answer as a new response. Responses are stored only when §3
allows it, and unsafe methods such as POST invalidate what is stored for their URL (§4.4).
When the origin cannot be reached, a stale copy (for HEAD without its body) may be served
unless ``must-revalidate``, ``no-cache`` or, in a shared cache, ``proxy-revalidate`` or
``s-maxage`` forbid it — then the client gets 504 (§4.2.4).

Choices where the RFC leaves latitude (documented where they apply): only GET responses are
stored (HEAD is answered from them); a 5xx answer to a validation counts as a failure to
reach the origin (§4.3.3).

Sources: RFC 9111 *HTTP Caching* and RFC 9110 *HTTP Semantics*, both June 2022.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from scalekit import _check, _html
from scalekit.caching.rfc import (
    DELTA_SECONDS_CAP,
    HEURISTIC_STATUSES,
    Headers,
    OriginUnreachable,
    Request,
    Response,
    _corrected_initial_age,
    _delta_seconds,
    _lifetime,
    _storable,
    current_age,
    format_http_date,
    freshness_lifetime,
    if_none_match_matches,
    parse_cache_control,
    parse_http_date,
    storable,
    strong_match,
    weak_match,
)

__all__ = [
    "OUTCOMES", "Headers", "Request", "Response", "OriginUnreachable", "Exchange",
    "CacheStats", "HttpCache", "parse_cache_control", "parse_http_date", "format_http_date",
    "freshness_lifetime", "current_age", "storable", "weak_match", "strong_match",
    "if_none_match_matches", "HEURISTIC_STATUSES", "DELTA_SECONDS_CAP",
]

OUTCOMES = ("hit", "miss", "revalidated", "replaced", "pass", "stale", "error")

_SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Fields never stored or copied from a 304 (RFC 9111 §3.1, §3.2; RFC 9110 §7.6.1).
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                         "transfer-encoding", "upgrade", "proxy-authenticate",
                         "proxy-authorization"})
_NOT_UPDATED = _HOP_BY_HOP | {"content-length"}
_CONDITIONS = frozenset({"if-none-match", "if-modified-since"})
_UNSET = object()


# --------------------------------------------------------------------------- results

@dataclass(frozen=True, eq=False, repr=False)
class Exchange(_html.ScalarTable):
    """What one ``HttpCache.fetch`` did: the response the client receives (with an ``Age``
    header when it came from the store), the outcome (one of ``OUTCOMES``), a one-sentence
    reason, how many requests went to the origin (0 or 1; 2 when a 304 that matched no stored
    response made the cache ask again unconditionally, RFC 9111 §4.3.4) and how many body
    bytes it sent."""

    response: Response = field(repr=False)
    outcome: str
    reason: str
    origin_requests: int
    origin_bytes: int
    age_s: float | None

    @property
    def status(self) -> int:
        return self.response.status

    def summary(self) -> dict:
        return {"status": self.status, **super().summary()}


@dataclass(frozen=True, eq=False, repr=False)
class CacheStats(_html.ScalarTable):
    """Counters since the cache was made (or cleared): requests and each outcome, requests
    and body bytes to the origin, body bytes served to clients, and entries stored now."""

    requests: int
    hits: int
    misses: int
    revalidated: int
    replaced: int
    passed: int
    stale: int
    errors: int
    origin_requests: int
    origin_bytes: int
    bytes_served: int
    entries: int

    @property
    def hit_ratio(self) -> float:
        """Hits (fresh responses served from the store) over all requests; 0 before any.

        Stale serves are not hits (as in ``ProxyStats.hit_ratio``): they are counted in
        ``stale``, so ``(hits + stale) / requests`` is the share answered without the origin.
        """
        return self.hits / self.requests if self.requests else 0.0


# --------------------------------------------------------------------------- the cache

@dataclass(frozen=True)
class _Entry:
    """A stored response. Entries are never changed: a 304 makes a new one (``_update``),
    so what is parsed from the stored header fields is kept, per entry, in ``_memo`` —
    computed at first use (under the cache's lock), by the same rules and in the same order
    as the pure functions of :mod:`scalekit.caching.rfc` would, and gone with the entry."""

    url: str
    response: Response          # as stored: hop-by-hop fields removed, a Date present
    request_time: float
    response_time: float
    vary: tuple[tuple[str, str | None], ...] | None  # None: Vary: * (never matches)
    key: int = -1               # its slot in the store
    _memo: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def cc(self) -> dict[str, str | None]:
        """The stored response's Cache-Control directives (read-only: shared)."""
        cc = self._memo.get("cc")
        if cc is None:
            cc = self._memo["cc"] = parse_cache_control(
                self.response.headers.get("Cache-Control"))
        return cc

    def _date(self) -> float | None:
        """The stored Date, parsed as ``current_age`` and ``freshness_lifetime`` parse it."""
        date = self._memo.get("date", _UNSET)
        if date is _UNSET:
            date = self._memo["date"] = parse_http_date(self.response.headers.get("Date"),
                                                        now=self.response_time)
        return date

    def age(self, now: float) -> float:
        """``current_age(headers, request_time=, response_time=, now=)``, to the bit."""
        initial = self._memo.get("initial_age")
        if initial is None:
            initial = self._memo["initial_age"] = _corrected_initial_age(
                self.response.headers, self._date(), self.request_time, self.response_time)
        return initial + (now - self.response_time)

    def lifetime(self, shared, heuristic_fraction) -> tuple[float, str]:
        """``freshness_lifetime`` of the stored response for these cache settings."""
        memo = self._memo.get("lifetime")
        if memo is not None and memo[0] is shared and memo[1] is heuristic_fraction:
            return memo[2]
        # the checks freshness_lifetime makes (the cache's settings may have been reassigned)
        checked_shared = _check.boolean("shared", shared)
        checked_fraction = _check.number("heuristic_fraction", heuristic_fraction,
                                         low=0.0, high=1.0)
        result = _lifetime(self.response.headers, self.cc, self._date, checked_shared,
                           checked_fraction, self.response.status, self.response_time)
        self._memo["lifetime"] = (shared, heuristic_fraction, result)
        return result


def _normalise(value: str | None) -> str | None:
    return None if value is None else ", ".join(p.strip() for p in value.split(","))


def _vary_key(response: Response, request: Request):
    names = [n.strip().lower() for n in (response.headers.get("Vary") or "").split(",")]
    names = [n for n in names if n]
    if "*" in names:
        return None
    return tuple((n, _normalise(request.headers.get(n))) for n in sorted(set(names)))


def _matches(entry: _Entry, request: Request) -> bool:
    """Do the request headers the stored response's Vary names match (§4.1)?"""
    vary = entry.vary
    if not vary:
        return vary is not None
    return all(_normalise(request.headers.get(n)) == v for n, v in vary)


def _stale_forbidden(cc: dict, shared: bool) -> str | None:
    """The response directive that forbids serving this response stale (§4.2.4), if any."""
    for directive in ("no-cache", "must-revalidate"):
        if directive in cc:
            return directive
    if shared:
        for directive in ("proxy-revalidate", "s-maxage"):
            if directive in cc:
                return directive
    return None


@dataclass
class _Plan:
    """What fetch decided under the lock: an answer, or a request to send to the origin."""

    exchange: Exchange | None = None
    outgoing: Request | None = None
    entry: _Entry | None = None   # the stored response being validated
    why: str = ""
    fallback: _Entry | None = None  # served stale if the origin cannot be reached (HEAD)
    unconditional: bool = False     # a resend after a 304 that selected nothing (§4.3.4)
    req: dict | None = None         # the request's Cache-Control, once parsed (read-only)


class HttpCache:
    """A private (browser) or shared (proxy, CDN) HTTP cache by RFC 9111 (see the module).

    ``clock`` gives the time in seconds since the epoch (inject a fake one in simulations);
    ``heuristic_fraction`` is the share of ``Date − Last-Modified`` used as a heuristic
    lifetime; ``obey_private=False`` makes a deliberately misconfigured shared cache that
    stores ``private`` responses; at most ``max_entries`` responses are kept, the
    oldest-stored evicted first. Thread-safe: the origin is called without the lock held.
    """

    def __init__(self, *, shared: bool = False, clock: Callable[[], float] = time.time,
                 obey_private: bool = True, heuristic_fraction: float = 0.1,
                 max_entries: int = 10_000):
        self.shared = _check.boolean("shared", shared)
        if not callable(clock):
            raise TypeError(f"clock must be a function returning seconds, got {clock!r}")
        self.clock = clock
        self.obey_private = _check.boolean("obey_private", obey_private)
        self.heuristic_fraction = _check.number("heuristic_fraction", heuristic_fraction,
                                                low=0.0, high=1.0)
        self.max_entries = _check.integer("max_entries", max_entries, low=1)
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._by_url: dict[str, list[int]] = {}
        self._next_id = 0
        self._counts = dict.fromkeys(OUTCOMES, 0)
        self._origin_requests = self._origin_bytes = self._bytes_served = 0

    # ------------------------------------------------------------------ public

    def fetch(self, request: Request, origin: Callable[[Request], Response]) -> Exchange:
        """Answer ``request`` from the store or through ``origin`` (a function from Request
        to Response that raises OriginUnreachable when the origin is down)."""
        if not isinstance(request, Request):
            raise TypeError(f"request must be a Request, got {type(request).__name__}")
        if not callable(origin):
            raise TypeError(f"origin must be a function Request -> Response, got {origin!r}")
        now = self._now()
        with self._lock:
            plan = self._plan(request, now)
            if plan.exchange is not None:
                return self._record(plan.exchange)
        request_time, response, response_time = self._ask(origin, plan.outgoing)
        earlier = None  # (requests, body bytes) of a 304 that selected nothing
        if plan.entry is not None and response is not None and response.status == 304:
            with self._lock:
                mismatch = self._unselected(plan.entry, response)
            if mismatch is not None:
                # RFC 9111 §4.3.4: a 304 that selects no stored response must not update
                # one; ask again without conditions and take the answer as a fresh fetch.
                headers = plan.outgoing.headers.copy()
                headers._remove_all(_CONDITIONS)
                plan = dataclasses.replace(
                    plan, outgoing=Request(request.method, request.url, headers),
                    unconditional=True,
                    why=f"{plan.why}; the origin's 304 {mismatch}, so it was not used to "
                        "update it (RFC 9111 §4.3.4) and the request was resent "
                        "unconditionally")
                earlier = (1, len(response.body))
                request_time, response, response_time = self._ask(origin, plan.outgoing)
        with self._lock:
            exchange = self._settle(request, plan, response, request_time, response_time)
            if earlier is not None:
                exchange = _replace_counts(exchange, exchange.origin_requests + earlier[0],
                                           exchange.origin_bytes + earlier[1])
            return self._record(exchange)

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            c = self._counts
            return CacheStats(
                requests=sum(c.values()), hits=c["hit"], misses=c["miss"],
                revalidated=c["revalidated"], replaced=c["replaced"], passed=c["pass"],
                stale=c["stale"], errors=c["error"], origin_requests=self._origin_requests,
                origin_bytes=self._origin_bytes, bytes_served=self._bytes_served,
                entries=len(self._entries))

    def clear(self) -> None:
        """Forget every stored response and reset the counters."""
        with self._lock:
            self._entries.clear()
            self._by_url.clear()
            self._counts = dict.fromkeys(OUTCOMES, 0)
            self._origin_requests = self._origin_bytes = self._bytes_served = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _now(self) -> float:
        """The clock's time, checked: a finite number of seconds."""
        t = self.clock()
        if type(t) is float and math.isfinite(t):
            return t  # the common case, as the checks below would return it
        if isinstance(t, bool) or not isinstance(t, numbers.Real):
            raise TypeError(f"clock must return a number of seconds, got {t!r}")
        try:
            seconds = float(t)
        except OverflowError:
            seconds = math.inf
        if not math.isfinite(seconds):
            raise ValueError(f"clock returned a non-finite time {t!r}; it must return a finite "
                             "number of seconds since the epoch")
        return seconds

    def _ask(self, origin, outgoing: Request) -> tuple[float, Response | None, float]:
        """(request_time, the origin's answer or None if unreachable, response_time);
        the lock is not held."""
        request_time = self._now()
        try:
            response = origin(outgoing)
        except OriginUnreachable:
            response = None
        response_time = self._now()
        if response is not None and not isinstance(response, Response):
            raise TypeError("origin must return a scalekit.caching.http.Response, "
                            f"got {type(response).__name__}")
        return request_time, response, response_time

    # ------------------------------------------------------------------ decisions

    def _plan(self, request: Request, now: float) -> _Plan:
        """Under the lock: serve from the store, or say what to ask the origin."""
        if request.method not in ("GET", "HEAD"):
            return _Plan(outgoing=request, why=f"{request.method} is not served from a cache")
        req = parse_cache_control(request.headers.get("Cache-Control"))
        entry = self._select(request)
        if entry is None:
            if "only-if-cached" in req:
                return _Plan(exchange=self._gateway_timeout(
                    now, "nothing stored and the request says only-if-cached", 0))
            return _Plan(outgoing=request, why="nothing usable stored")
        cc = entry.cc
        age = entry.age(now)
        lifetime, rule = self._lifetime(entry)
        fresh = lifetime > age
        shown = _age_field(age)  # the same whole seconds the Age header gets (§5.1)
        state = (f"age {shown} s < lifetime {lifetime:.0f} s ({rule})" if fresh
                 else f"age {shown} s ≥ lifetime {lifetime:.0f} s ({rule})")
        need = self._must_validate(req, cc, age, lifetime, fresh)
        if need is None:
            if fresh:
                return _Plan(exchange=self._serve(request, entry, now, "hit", f"fresh: {state}",
                                                  age))
            return _Plan(exchange=self._serve(
                request, entry, now, "stale", f"stale ({state}) but the request allows "
                f"max-stale={req['max-stale'] or 'any'}", age))
        if "only-if-cached" in req:
            return _Plan(exchange=self._gateway_timeout(
                now, f"stored copy needs validation ({need}) and the request says "
                "only-if-cached", 0))
        if request.method == "HEAD":
            return _Plan(outgoing=request, fallback=entry,
                         why=f"HEAD with a stored copy needing validation ({need}) is forwarded")
        return _Plan(outgoing=self._conditional(request, entry), entry=entry,
                     why=f"{need}: {state}", req=req)

    def _must_validate(self, req, cc, age, lifetime, fresh) -> str | None:
        """Why the stored copy cannot be served as is, or None if it can (§4.2, §5.2)."""
        if "no-cache" in cc:
            return "the response says no-cache"
        if "no-cache" in req:
            return "the request says no-cache"
        if "max-age" in req:
            limit = _delta_seconds(req["max-age"])
            if limit is None or limit == 0 or age > limit:  # max-age=0: always validate
                return f"the request says max-age={req['max-age']}"
        if "min-fresh" in req:
            need = _delta_seconds(req["min-fresh"])
            if need is not None and lifetime - age < need:
                return f"the request says min-fresh={need}"
        if fresh:
            return None
        if "max-stale" in req and _stale_forbidden(cc, self.shared) is None:
            allowed = _delta_seconds(req["max-stale"])
            if req["max-stale"] is None or (allowed is not None and age - lifetime <= allowed):
                return None
        return "stale"

    def _settle(self, request, plan: _Plan, response, request_time, response_time) -> Exchange:
        """Under the lock: turn the origin's answer (None if unreachable) into an Exchange."""
        now = response_time
        entry = plan.entry
        if response is None or (entry is not None and response.status >= 500):
            failure = ("origin unreachable" if response is None
                       else f"origin answered {response.status}")
            sent = 0 if response is None else 1
            got = 0 if response is None else len(response.body)
            if entry is None and response is None:
                entry = plan.fallback  # HEAD: the stored GET, served without its body
            if entry is not None:
                forbid = _stale_forbidden(entry.cc, self.shared)
                if forbid is None:
                    ex = self._serve(request, entry, now, "stale",
                                     f"{failure}: served the stored copy unvalidated, "
                                     "which nothing forbids (RFC 9111 §4.2.4)")
                    return _replace_counts(ex, sent, got)
                if response is None:
                    return self._gateway_timeout(
                        now, f"{failure} and the stored copy says {forbid}, so it must not "
                        "be served stale: 504 Gateway Timeout", 0)
                return self._forwarded(_with_date(response, response_time), "pass",
                                       f"{failure} while validating; the stored copy says "
                                       f"{forbid}, so the error was forwarded", got)
            elif response is None:
                if request.method not in ("GET", "HEAD"):
                    held = f"a {request.method} is never answered from a cache"
                else:
                    held = "nothing usable stored"
                return self._gateway_timeout(now, f"{failure} and {held}: 504 Gateway Timeout",
                                             0)
        response = _with_date(response, response_time)
        sent, got = 1, len(response.body)
        if request.method not in _SAFE and response.status < 400:
            gone = self._invalidate(request, response)
            return self._forwarded(response, "pass", f"{plan.why}: forwarded; {gone}", got)
        if entry is not None and response.status == 304 and not plan.unconditional:
            updated = self._update(entry, request, response, request_time, response_time)
            validator = "If-None-Match" if "ETag" in entry.response.headers else \
                "If-Modified-Since"
            reason = (f"{plan.why}; the origin answered 304 Not Modified to {validator}, "
                      "so the stored copy was served")
            ok, why = self._storable(request, updated.response, plan.req, updated.cc)
            if ok and updated.vary is None:
                ok, why = False, "Vary: * can never match a later request (RFC 9111 §4.1)"
            if not ok:
                self._remove(updated)
                reason += f", then dropped: {why}"
            ex = self._serve(request, updated, now, "revalidated", reason)
            return _replace_counts(ex, sent, got)
        ok, why = storable(request, response, shared=self.shared,
                           obey_private=self.obey_private)
        if ok and _vary_key(response, request) is None:
            ok, why = False, "Vary: * can never match a later request (RFC 9111 §4.1)"
        if entry is not None:
            self._remove(entry)
        if not ok:
            dropped = "; the stale copy was dropped" if entry is not None else ""
            return self._forwarded(response, "pass", f"{plan.why}: forwarded, not stored: "
                                   f"{why}{dropped}", got)
        stored = self._store(_Entry(request.url, _storable_copy(response), request_time,
                                    response_time, _vary_key(response, request)), request)
        # the stored copy lacks only hop-by-hop fields, none of which the lifetime reads
        lifetime, rule = self._lifetime(stored)
        kept = f"stored with lifetime {lifetime:.0f} s ({rule})"
        if entry is None:
            return self._forwarded(response, "miss", f"{plan.why}: fetched and {kept}", got)
        how = ("the origin sent a full response" if _has_validator(entry.response)
               else "no validator, so fetched in full")
        return self._forwarded(response, "replaced", f"{plan.why}; {how}, {kept}", got)

    # ------------------------------------------------------------------ helpers

    def _unselected(self, entry: _Entry, response: Response) -> str | None:
        """Under the lock: why a 304 does not select ``entry`` for update, or None if it
        does (RFC 9111 §4.3.4). A strong ETag selects stored responses with that same strong
        validator, a weak one those it matches weakly; without an ETag, Last-Modified
        selects the one with that Last-Modified; with no validator at all, the one stored
        response (whose validators the request used) is selected only if it is alone."""
        stored = entry.response.headers
        etag = response.headers.get("ETag")
        if etag is not None:
            mine = stored.get("ETag")
            if mine is None:
                return f"carries ETag {etag} and the stored copy has none"
            weak = etag.strip().startswith("W/")
            if strong_match(etag, mine) or (weak and weak_match(etag, mine)):
                return None
            return f"carries ETag {etag}, which does not match the stored {mine}"
        modified = response.headers.get("Last-Modified")
        if modified is not None:
            mine = stored.get("Last-Modified")
            if mine is None:
                return f"carries Last-Modified {modified} and the stored copy has none"
            when = parse_http_date(modified)
            if modified.strip() == mine.strip() or (when is not None
                                                    and when == parse_http_date(mine)):
                return None
            return f"carries Last-Modified {modified}, not the stored copy's {mine}"
        others = [k for k in self._by_url.get(entry.url, []) if k != entry.key]
        if others:
            return "carries no validator and more than one response is stored for the URL"
        return None

    def _lifetime(self, entry: _Entry) -> tuple[float, str]:
        return entry.lifetime(self.shared, self.heuristic_fraction)

    def _storable(self, request: Request, response: Response, req: dict | None,
                  cc: dict) -> tuple[bool, str]:
        """``storable(request, response, shared=, obey_private=)`` given the response's
        parsed Cache-Control (and the request's, if already parsed)."""
        shared, obey_private = self.shared, self.obey_private
        if type(shared) is not bool or type(obey_private) is not bool:
            return storable(request, response, shared=shared, obey_private=obey_private)
        if req is None:
            req = parse_cache_control(request.headers.get("Cache-Control"))
        return _storable(request, response, req, cc, shared, obey_private)

    def _select(self, request: Request) -> _Entry | None:
        """The most recently stored response whose Vary headers match the request (§4.1)."""
        for key in reversed(self._by_url.get(request.url, [])):
            if _matches(self._entries[key], request):
                return self._entries[key]
        return None

    def _conditional(self, request: Request, entry: _Entry) -> Request:
        """The request with the stored copy's validators as conditions (§4.3.1)."""
        headers = request.headers.copy()
        headers._remove_all(_CONDITIONS)
        etag = entry.response.headers.get("ETag")
        last_modified = entry.response.headers.get("Last-Modified")
        # the values come from stored (so already checked) header fields
        if etag is not None:
            headers._set_trusted("If-None-Match", etag)
        if last_modified is not None:
            headers._set_trusted("If-Modified-Since", last_modified)
        return Request._trusted(request.method, request.url, headers)

    def _update(self, entry: _Entry, request: Request, response: Response, request_time,
                response_time) -> _Entry:
        """Freshen a stored response with a 304's header fields (§3.2, §4.3.4). A 304
        without Age came first-hand, so an Age stored from an upstream cache goes."""
        fresh: dict[str, list[tuple[str, str]]] = {}
        for name, value in response.headers._pairs:
            low = name.lower()
            if low not in _NOT_UPDATED:
                fresh.setdefault(low, []).append((name, value))
        drop_age = "age" not in fresh  # the 304 has no Age
        # In one pass, what removing Age, then for each field of the 304 ``set`` of its first
        # line and ``add`` of the rest, would give: each updated field's first line takes
        # the place of the stored field's first line (or goes last); the rest go last.
        lines, placed = [], set()
        for name, value in entry.response.headers._pairs:
            low = name.lower()
            pairs = fresh.get(low)
            if pairs is None:
                if not (drop_age and low == "age"):
                    lines.append((name, value))
            elif low not in placed:
                lines.append(pairs[0])
                placed.add(low)
        for low, pairs in fresh.items():
            if low not in placed:
                lines.append(pairs[0])
            lines.extend(pairs[1:])
        headers = Headers()
        headers._pairs = lines  # field lines of two Responses: already checked
        stored = Response._trusted(entry.response.status, headers, entry.response.body)
        updated = _Entry(entry.url, stored, request_time, response_time,
                         _vary_key(stored, request), entry.key)
        if self._entries.get(entry.key) is entry:
            self._entries[entry.key] = updated
        return updated

    def _store(self, entry: _Entry, request: Request) -> _Entry:
        """Store, replacing what this request would have selected (§4.1), then evict;
        return the entry as stored."""
        for key in list(self._by_url.get(entry.url, [])):
            if _matches(self._entries[key], request):
                self._remove(self._entries[key])
        key, self._next_id = self._next_id, self._next_id + 1
        stored = self._entries[key] = dataclasses.replace(entry, key=key)
        self._by_url.setdefault(entry.url, []).append(key)
        while len(self._entries) > self.max_entries:
            self._remove(next(iter(self._entries.values())))
        return stored

    def _remove(self, entry: _Entry) -> None:
        if self._entries.get(entry.key) is not entry:
            return  # already replaced, evicted or invalidated
        del self._entries[entry.key]
        self._by_url[entry.url].remove(entry.key)
        if not self._by_url[entry.url]:
            del self._by_url[entry.url]

    def _invalidate(self, request: Request, response: Response) -> str:
        """Drop what is stored for the target URI and same-origin Location /
        Content-Location after an unsafe method's non-error response (§4.4)."""
        urls = [request.url]
        for name in ("Location", "Content-Location"):
            value = response.headers.get(name)
            if value is not None:
                try:
                    target = urllib.parse.urljoin(request.url, value.strip())
                    if _origin_of(target) == _origin_of(request.url):
                        urls.append(target)
                except ValueError:
                    continue
        dropped = [u for u in dict.fromkeys(urls) if u in self._by_url]
        for url in dropped:
            for key in self._by_url.pop(url):
                del self._entries[key]
        return (f"invalidated {', '.join(dropped)}" if dropped
                else "nothing stored to invalidate")

    def _serve(self, request: Request, entry: _Entry, now: float, outcome: str,
               reason: str, age: float | None = None) -> Exchange:
        """The stored response, with its Age, or a 304 if the client's own conditions match.
        ``age`` is the entry's current age at ``now`` if the caller has it already."""
        if age is None:
            age = entry.age(now)
        headers = entry.response.headers.copy()
        headers._set_trusted("Age", str(_age_field(age)))  # a token and digits
        status, body = entry.response.status, entry.response.body
        if request.method == "HEAD":
            body = b""
        if status == 200 and _client_condition_holds(request, entry.response):
            status, body = 304, b""
            reason += "; the client's own condition matched, so it got 304"
        return Exchange(Response._trusted(status, headers, body), outcome, reason, 0, 0, age)

    def _forwarded(self, response, outcome, reason, got) -> Exchange:
        return Exchange(response, outcome, reason, 1, got, None)

    def _gateway_timeout(self, now: float, reason: str, sent: int) -> Exchange:
        headers = Headers([("Date", format_http_date(now)), ("Content-Type", "text/plain")])
        return Exchange(Response(504, headers, b"504 Gateway Timeout\n"), "error", reason,
                        sent, 0, None)

    def _record(self, exchange: Exchange) -> Exchange:
        self._counts[exchange.outcome] += 1
        self._origin_requests += exchange.origin_requests
        self._origin_bytes += exchange.origin_bytes
        self._bytes_served += len(exchange.response.body)
        return exchange


def _age_field(age: float) -> int:
    """The Age header's value for a current age: whole seconds, floored, capped (§5.1)."""
    return min(int(max(age, 0.0)), DELTA_SECONDS_CAP)


def _replace_counts(exchange: Exchange, sent: int, got: int) -> Exchange:
    return Exchange(exchange.response, exchange.outcome, exchange.reason, sent, got,
                    exchange.age_s)


def _with_date(response: Response, response_time: float) -> Response:
    """A response without a Date gets one: when it arrived (RFC 9110 §6.6.1)."""
    if "Date" in response.headers:
        return response
    headers = response.headers.copy()
    headers.set("Date", format_http_date(response_time))
    return Response(response.status, headers, response.body)


def _storable_copy(response: Response) -> Response:
    headers = Headers([(n, v) for n, v in response.headers.items()
                       if n.lower() not in _HOP_BY_HOP])
    return Response(response.status, headers, response.body)


def _has_validator(response: Response) -> bool:
    return "ETag" in response.headers or "Last-Modified" in response.headers


def _client_condition_holds(request: Request, stored: Response) -> bool:
    """The client's If-None-Match (or, without it, If-Modified-Since) against the stored
    copy (RFC 9110 §13.1.2, §13.1.3, §13.2.2): true means answer 304."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        return if_none_match_matches(inm, stored.headers.get("ETag"))
    since = parse_http_date(request.headers.get("If-Modified-Since"))
    if since is None:
        return False
    modified = parse_http_date(stored.headers.get("Last-Modified"))
    return since is not None and modified is not None and modified <= since


def _origin_of(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
