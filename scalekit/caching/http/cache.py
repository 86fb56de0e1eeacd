"""An HTTP cache by the rules of RFC 9111, RFC 5861 and RFC 9213 — the logic only, no sockets.

A cache sits between clients and an origin server. For each request it looks up a stored
response by the request's URL (its *primary key*) and by the request headers the stored
response's ``Vary`` names (its *secondary key*, §4.1). A stored response is *fresh* while
its current age is below its freshness lifetime (§4.2); both, and whether a response may be
stored at all (§3), are computed by the pure rules of :mod:`scalekit.caching.http.rules`.

A fresh response is served at once (a *hit*), as a 304 if the client's own condition holds
and as a 206 if the client asked for a byte range (:mod:`~scalekit.caching.http.answer`).
A stale one — or any with ``no-cache`` — is *validated*: the cache asks the origin
``If-None-Match: <ETag>`` / ``If-Modified-Since: <Last-Modified>`` and, on ``304 Not
Modified``, serves its copy with the fields the 304 brought (§4.3.4) — if the 304 selects
that copy; if not, it asks again unconditionally. Within a ``stale-while-revalidate``
window (RFC 5861 §3) the stale copy is served at once and validated in the background, one
validation per stored response at a time; never after the window. When the origin cannot
be reached, or answers 5xx, a stale copy may be served unless ``must-revalidate``,
``no-cache`` or, in a shared cache, ``proxy-revalidate`` or ``s-maxage`` forbid it (§4.2.4,
§4.3.3) and, if it says ``stale-if-error=N``, only within N seconds of going stale (RFC
5861 §4) — otherwise the client gets the error, or 504.

Other rules kept: a 2xx/3xx answer to an unsafe method — any method but GET, HEAD, OPTIONS
and TRACE, extension methods included — invalidates the stored responses for its URL and
for same-origin ``Location``/``Content-Location``, a failed one does not (§4.4); a 206 is
stored as a part and combined with parts of the same strong validator (§3.3, §3.4); a 200
to HEAD freshens, or invalidates, the stored GET response it describes (§4.3.5); with
``targets=("cdn-cache-control",)`` the cache obeys that targeted field over Cache-Control
(RFC 9213).

Sources: RFC 9111 *HTTP Caching*, RFC 9110 *HTTP Semantics* (June 2022); RFC 5861 *HTTP
Cache-Control Extensions for Stale Content* (May 2010); RFC 9213 *Targeted HTTP Cache
Control* (June 2022).

One file of about 500 lines: the cache's decision for one request (look up, serve, validate,
store, invalidate) is one procedure, RFC 9111's §4 in order; the steps it calls live in
its sibling modules.
"""

from __future__ import annotations

import math
import numbers
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from scalekit import _check
from scalekit.caching.http import answer
from scalekit.caching.http.entry import Entry, policy_of, vary_key
from scalekit.caching.http.exchange import OUTCOMES, CacheStats, Exchange, counted, forwarded
from scalekit.caching.http.messages import OriginUnreachable, Request, Response
from scalekit.caching.http.ranges import Pieces, parse_content_range
from scalekit.caching.http.rules import parse_cache_control, storable, strong_match
from scalekit.caching.http.stores import Store
from scalekit.caching.http.validation import (
    CONDITIONS,
    HOP_BY_HOP,
    NOT_UPDATED,
    SAFE_METHODS,
    check_targets,
    conditional,
    dated,
    has_validator,
    must_validate,
    revalidate_window,
    same_origin,
    stale_if_error_forbids,
    storable_copy,
    unselected,
)

__all__ = ["OUTCOMES", "Exchange", "CacheStats", "HttpCache", "SAFE_METHODS", "HOP_BY_HOP"]

@dataclass
class _Plan:
    """What fetch decided under the lock: an answer, or a request to send to the origin."""

    exchange: Exchange | None = None
    outgoing: Request | None = None
    entry: Entry | None = None      # the stored response being validated
    why: str = ""
    head_of: Entry | None = None    # HEAD: the stored GET it may freshen (§4.3.5)
    part_of: Entry | None = None    # a stored part a 206 may complete (§3.4)
    unconditional: bool = False     # a resend after a 304 that selected nothing (§4.3.4)
    background: Request | None = None  # stale-while-revalidate: validate this meanwhile
    req: dict = field(default_factory=dict)  # the request's Cache-Control


def _thread(job: Callable[[], None]) -> None:
    threading.Thread(target=job, name="scalekit-revalidate", daemon=True).start()


class HttpCache:
    """A private (browser) or shared (proxy, CDN) HTTP cache (see the module).

    ``clock`` gives the time in seconds since the epoch (inject a fake one in simulations);
    ``heuristic_fraction`` is the share of ``Date − Last-Modified`` used as a heuristic
    lifetime; ``obey_private=False`` makes a deliberately misconfigured shared cache that
    stores ``private`` responses; at most ``max_entries`` responses are kept, the
    oldest-stored evicted first; ``targets`` lists targeted cache-control fields to obey
    over Cache-Control, first valid one wins (``("cdn-cache-control",)`` for a CDN,
    RFC 9213); ``background`` runs a stale-while-revalidate validation — a function given a
    job (a function of no arguments) to run later; default: a daemon thread; pass
    ``lambda job: job()`` to run it at once, after the stale answer is made. Thread-safe:
    the origin is called without the lock held.
    """

    def __init__(self, *, shared: bool = False, clock: Callable[[], float] = time.time,
                 obey_private: bool = True, heuristic_fraction: float = 0.1,
                 max_entries: int = 10_000, targets: Iterable[str] = (),
                 background: Callable[[Callable[[], None]], None] | None = None):
        self.shared = _check.boolean("shared", shared)
        if not callable(clock):
            raise TypeError(f"clock must be a function returning seconds, got {clock!r}")
        self.clock = clock
        self.obey_private = _check.boolean("obey_private", obey_private)
        self.heuristic_fraction = _check.number("heuristic_fraction", heuristic_fraction,
                                                low=0.0, high=1.0)
        self.max_entries = _check.integer("max_entries", max_entries, low=1)
        self.targets = check_targets(targets)
        if background is not None and not callable(background):
            raise TypeError(f"background must be a function taking a job, or None, got "
                            f"{background!r}")
        self.background = background or _thread
        self._lock = threading.Lock()
        self._store = Store(self.max_entries)
        self._revalidating: set[int] = set()
        self._counts = dict.fromkeys(OUTCOMES, 0)
        self._origin_requests = self._origin_bytes = self._bytes_served = 0
        self._background_runs = 0

    # ------------------------------------------------------------------ public

    def fetch(self, request: Request, origin: Callable[[Request], Response]) -> Exchange:
        """Answer ``request`` from the store or through ``origin`` (a function from Request
        to Response that raises OriginUnreachable when the origin is down; it may be called
        again later from another thread, for a background revalidation)."""
        if not isinstance(request, Request):
            raise TypeError(f"request must be a Request, got {type(request).__name__}")
        if not callable(origin):
            raise TypeError(f"origin must be a function Request -> Response, got {origin!r}")
        now = self._now()
        with self._lock:
            plan = self._plan(request, now)
            exchange = self._record(plan.exchange) if plan.exchange is not None else None
        if exchange is not None:
            if plan.background is not None:  # started outside the lock: the job takes it
                entry, outgoing = plan.entry, plan.background
                self.background(lambda: self._revalidate(entry, outgoing, origin))
            return exchange
        request_time, response, response_time = self._ask(origin, plan.outgoing)
        earlier = None  # (requests, body bytes) of a 304 that selected nothing
        if plan.entry is not None and response is not None and response.status == 304:
            mismatch = unselected(plan.entry, response, self._store)
            if mismatch is not None:
                # RFC 9111 §4.3.4: a 304 that selects no stored response must not update
                # one; ask again without conditions and take the answer as a fresh fetch.
                plan = replace(plan, outgoing=plan.outgoing.with_headers(
                    plan.outgoing.headers.without(CONDITIONS[:2])), unconditional=True,
                    why=f"{plan.why}; the origin's 304 {mismatch}, so it was not used to "
                        "update it (RFC 9111 §4.3.4) and the request was resent "
                        "unconditionally")
                earlier = (1, len(response.body))
                request_time, response, response_time = self._ask(origin, plan.outgoing)
        with self._lock:
            exchange = self._settle(request, plan, response, request_time, response_time)
            if earlier is not None:
                exchange = counted(exchange, exchange.origin_requests + earlier[0],
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
                entries=len(self._store), background_revalidations=self._background_runs)

    def clear(self) -> None:
        """Forget every stored response and reset the counters."""
        with self._lock:
            self._store.clear()
            self._counts = dict.fromkeys(OUTCOMES, 0)
            self._origin_requests = self._origin_bytes = self._bytes_served = 0
            self._background_runs = 0

    def __len__(self) -> int:
        return len(self._store)

    def entries(self) -> list[Entry]:
        """The stored responses now, oldest stored first (a snapshot, for inspection)."""
        with self._lock:
            return self._store.snapshot()

    def _now(self) -> float:
        """The clock's time, checked: a finite number of seconds."""
        t = self.clock()
        if type(t) is float and math.isfinite(t):
            return t
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
        if response is not None and response.status < 200:
            raise ValueError(f"origin returned an interim {response.status} as the answer; "
                             "interim (1xx) responses are never final (RFC 9110 §15.2)")
        return request_time, response, response_time

    # ------------------------------------------------------------------ decisions

    def _plan(self, request: Request, now: float) -> _Plan:
        """Under the lock: serve from the store, or say what to ask the origin."""
        if request.method not in ("GET", "HEAD"):
            return _Plan(outgoing=request, why=f"{request.method} is not served from a cache")
        cache_control = request.headers.get("Cache-Control")
        req = parse_cache_control(cache_control) if cache_control is not None else {}
        entry = self._store.select(request)
        if entry is not None and not entry.complete:
            if answer.partial_covers(request, entry) and self._fresh(entry, now)[0]:
                return _Plan(exchange=self._serve(request, entry, now, "hit",
                                                  "fresh stored part holds the range"))
            return _Plan(outgoing=request, part_of=entry, req=req,
                         why="a part is stored, not what was asked")
        if entry is None:
            if "only-if-cached" in req:
                return _Plan(exchange=self._error(
                    now, "nothing stored and the request says only-if-cached", 0))
            return _Plan(outgoing=request, why="nothing usable stored", req=req)
        age = entry.age(now)
        fresh, lifetime, state = self._fresh(entry, now, age)
        need = must_validate(req, entry.directives, age, lifetime, fresh, self.shared)
        if need is None:
            if fresh:
                return _Plan(exchange=self._serve(request, entry, now, "hit", f"fresh: {state}",
                                                  age))
            return _Plan(exchange=self._serve(
                request, entry, now, "stale", f"stale ({state}) but the request allows "
                f"max-stale={req['max-stale'] or 'any'}", age))
        if "only-if-cached" in req:
            return _Plan(exchange=self._error(
                now, f"stored copy needs validation ({need}) and the request says "
                "only-if-cached", 0))
        if request.method == "HEAD":
            return _Plan(outgoing=request, head_of=entry, req=req,
                         why=f"HEAD with a stored copy needing validation ({need}) is forwarded")
        outgoing = conditional(request, entry)
        window = revalidate_window(entry, need, age, lifetime, self.shared)
        if window is not None:
            ex = self._serve(request, entry, now, "stale", f"stale ({state}) within "
                             f"stale-while-revalidate={window} s: served at once, "
                             f"revalidated in the background (RFC 5861 §3)", age)
            busy = entry.key in self._revalidating
            if not busy:
                self._revalidating.add(entry.key)
            return _Plan(exchange=ex, entry=entry, background=None if busy else outgoing)
        return _Plan(outgoing=outgoing, entry=entry, why=f"{need}: {state}", req=req)

    def _fresh(self, entry: Entry, now: float, age: float | None = None):
        """(fresh?, lifetime s, a phrase saying why) for a stored entry at ``now``."""
        age = entry.age(now) if age is None else age
        lifetime, rule = entry.lifetime(self.shared, self.heuristic_fraction)
        shown = answer.age_field(age)
        fresh = lifetime > age
        state = (f"age {shown} s < lifetime {lifetime:.0f} s ({rule})" if fresh
                 else f"age {shown} s ≥ lifetime {lifetime:.0f} s ({rule})")
        if entry.targeted:
            state += f", from {entry.targeted}"
        return fresh, lifetime, state

    def _revalidate(self, entry: Entry, outgoing: Request, origin) -> None:
        """A background validation of ``entry`` (stale-while-revalidate); never raises."""
        try:
            request_time, response, response_time = self._ask(origin, outgoing)
            with self._lock:
                self._background_runs += 1
                if response is None:
                    return
                response = dated(response, response_time)  # as in the foreground (§6.6.1)
                self._origin_requests += 1
                self._origin_bytes += len(response.body)
                current = self._store.get(entry.key)
                if response.status == 304 and current is entry:
                    if unselected(entry, response, self._store) is None:
                        self._freshen(entry, outgoing, response, request_time, response_time)
                elif 200 <= response.status < 500 and response.status != 304:
                    self._keep(outgoing, response, request_time, response_time,
                               replacing=current)
        except Exception:  # noqa: BLE001 - a background job has no caller to tell
            pass
        finally:
            with self._lock:
                self._revalidating.discard(entry.key)

    def _settle(self, request, plan: _Plan, response, request_time, response_time) -> Exchange:
        """Under the lock: turn the origin's answer (None if unreachable) into an Exchange."""
        now = response_time
        entry = plan.entry or plan.head_of
        if response is None or (entry is not None and response.status >= 500):
            return self._failed(request, plan, entry, response, now)
        response = dated(response, response_time)
        got = len(response.body)
        if request.method not in SAFE_METHODS:
            if response.status < 400:
                gone = self._invalidate(request, response)
                return forwarded(response, "pass", f"{plan.why}: forwarded; {gone}", got)
            return forwarded(response, "pass", f"{plan.why}: forwarded; it failed "
                              f"({response.status}), so nothing was invalidated", got)
        if plan.head_of is not None:
            note = self._head_update(plan.head_of, request, response, request_time,
                                     response_time)
            return forwarded(response, "pass", f"{plan.why}; {note}", got)
        if entry is not None and response.status == 304 and not plan.unconditional:
            updated = self._freshen(entry, request, response, request_time, response_time)
            validator = "If-None-Match" if "ETag" in entry.response.headers else \
                "If-Modified-Since"
            reason = (f"{plan.why}; the origin answered 304 Not Modified to {validator}, "
                      "so the stored copy was served")
            if self._store.get(updated.key) is not updated:
                reason += ", then dropped: it may no longer be stored"
            return counted(self._serve(request, updated, now, "revalidated", reason), 1, got)
        if response.status == 206:
            return self._partial(request, plan, response, request_time, response_time)
        kept, why = self._keep(request, response, request_time, response_time,
                               replacing=entry)
        if kept is None:
            dropped = "; the stale copy was dropped" if entry is not None else ""
            return forwarded(response, "pass", f"{plan.why}: forwarded, not stored: "
                              f"{why}{dropped}", got)
        if entry is None:
            return forwarded(response, "miss", f"{plan.why}: fetched and {why}", got)
        how = ("the origin sent a full response" if has_validator(entry.response)
               else "no validator, so fetched in full")
        return forwarded(response, "replaced", f"{plan.why}; {how}, {why}", got)

    def _failed(self, request, plan, entry, response, now) -> Exchange:
        """The answer when the origin is unreachable (``response`` None) or answered 5xx
        to a validation: the stale copy if §4.2.4 and stale-if-error allow, else the error
        (or 504)."""
        failure = ("origin unreachable" if response is None
                   else f"origin answered {response.status}")
        sent, got = (0, 0) if response is None else (1, len(response.body))
        if entry is not None:
            forbid = stale_if_error_forbids(entry, plan.req, now, self.shared,
                                            self.heuristic_fraction)
            if forbid is None:
                ex = self._serve(request, entry, now, "stale",
                                 f"{failure}: served the stored copy unvalidated, "
                                 "which nothing forbids (RFC 9111 §4.2.4, RFC 5861 §4)")
                return counted(ex, sent, got)
            if response is None:
                return self._error(now, f"{failure} and the stored copy {forbid}, so it must "
                                   "not be served stale: 504 Gateway Timeout", 0)
            return forwarded(dated(response, now), "pass", f"{failure} while validating; "
                              f"the stored copy {forbid}, so the error was forwarded", got)
        if response is not None:
            return forwarded(dated(response, now), "pass",
                              f"{plan.why}: forwarded, not stored: {failure}", got)
        held = (f"a {request.method} is never answered from a cache"
                if request.method not in ("GET", "HEAD") else "nothing usable stored")
        return self._error(now, f"{failure} and {held}: 504 Gateway Timeout", 0)

    # ------------------------------------------------------------------ storing

    def _keep(self, request, response, request_time, response_time, *, replacing):
        """Store ``response`` if §3 allows; (the entry or None, a phrase saying what)."""
        directives, policy_headers, target = policy_of(response.headers, self.targets)
        ok, why = storable(request, Response(response.status, policy_headers),
                           shared=self.shared, obey_private=self.obey_private,
                           directives=directives)
        vary = vary_key(response, request)
        if ok and vary is None:
            ok, why = False, "Vary: * can never match a later request (RFC 9111 §4.1)"
        if replacing is not None:
            self._store.remove(replacing)
        if not ok:
            return None, why
        entry = self._store.put(Entry(request.url, storable_copy(response), request_time,
                                      response_time, vary, self.targets), request)
        lifetime, rule = entry.lifetime(self.shared, self.heuristic_fraction)
        via = f", from {target}" if target else ""
        return entry, f"stored with lifetime {lifetime:.0f} s ({rule}{via})"

    def _freshen(self, entry: Entry, request, response, request_time, response_time) -> Entry:
        """Update a stored response with a 304's (or a 200-to-HEAD's) fields (§3.2, §4.3.4).
        A 304 without Age came first-hand, so an Age stored from an upstream cache goes."""
        stored = entry.response.headers
        if "Age" not in response.headers:
            stored = stored.without(("Age",))
        headers = stored.merged(response.headers, skip=NOT_UPDATED)
        fresh = Entry(entry.url, Response(entry.response.status, headers,
                                          entry.response.body),
                      request_time, response_time, vary_key(entry.response, request),
                      self.targets, entry.key, entry.pieces)
        ok, _ = storable(Request("GET", entry.url, request.headers),
                         Response(fresh.response.status,
                                  policy_of(headers, self.targets)[1]),
                         shared=self.shared, obey_private=self.obey_private,
                         directives=fresh.directives)
        if ok and fresh.vary is not None:
            self._store.swap(entry, fresh)
        else:
            self._store.remove(entry)
        return fresh

    def _head_update(self, entry, request, response, request_time, response_time) -> str:
        """A 200 answering HEAD freshens the stored GET response it describes, unless its
        validators or Content-Length say the content changed: then that is invalidated
        (RFC 9111 §4.3.5)."""
        if response.status != 200:
            return "forwarded"
        stored, new = entry.response.headers, response.headers
        for name in ("ETag", "Last-Modified", "Content-Length"):
            mine, theirs = stored.get(name), new.get(name)
            if mine is not None and theirs is not None and mine.strip() != theirs.strip():
                self._store.remove(entry)
                return (f"its {name} differs from the stored GET response's, which was "
                        "invalidated (RFC 9111 §4.3.5)")
        self._freshen(entry, request, response, request_time, response_time)
        return "its 200 freshened the stored GET response (RFC 9111 §4.3.5)"

    def _partial(self, request, plan, response, request_time, response_time) -> Exchange:
        """A 206 from the origin: forwarded; stored as a part, combined with a stored part
        that has the same strong validator (RFC 9111 §3.3, §3.4)."""
        got = len(response.body)
        span = parse_content_range(response.headers.get("Content-Range"))
        if span is None or span[1] - span[0] + 1 != got:
            return forwarded(response, "pass", f"{plan.why}: a 206 without one valid "
                              "Content-Range for its body: forwarded, not stored", got)
        first, _, length = span
        old = plan.part_of
        etag = response.headers.get("ETag")
        combined = (old is not None and etag is not None and old.pieces.length == length
                    and old.response.headers.get("ETag") is not None
                    and strong_match(etag, old.response.headers.get("ETag")))
        pieces = (old.pieces if combined else Pieces(length, ())).add(first, response.body)
        headers = (old.response.headers.merged(response.headers, skip=NOT_UPDATED)
                   if combined else response.headers.without(NOT_UPDATED))
        whole = pieces.complete
        status, body = (200, whole) if whole is not None else (206, b"")
        if whole is not None:
            headers.set("Content-Length", str(len(whole)))
        copy = Response(status, headers, body)
        kept, why = self._keep(request, copy, request_time, response_time, replacing=old)
        if kept is not None and whole is None:
            self._store.swap(kept, replace(kept, pieces=pieces))
            why = why.replace("stored", f"stored as a part ({pieces.end} bytes held)", 1)
        elif kept is not None:
            why = why.replace("stored", "combined into the whole response and stored", 1)
        outcome = "miss" if kept is not None else "pass"
        return forwarded(response, outcome, f"{plan.why}: a 206 was forwarded, "
                          f"{why if kept is not None else 'not stored: ' + why}", got)

    def _invalidate(self, request: Request, response: Response) -> str:
        """Drop what is stored for the target URI and same-origin Location /
        Content-Location after an unsafe method's non-error response (§4.4)."""
        urls = [request.url] + [u for u in (same_origin(request.url,
                                                         response.headers.get(name))
                                            for name in ("Location", "Content-Location"))
                                if u is not None]
        dropped = [u for u in dict.fromkeys(urls) if self._store.drop_url(u)]
        return (f"invalidated {', '.join(dropped)}" if dropped
                else "nothing stored to invalidate")

    # ------------------------------------------------------------------ answers

    def _serve(self, request, entry, now, outcome, reason, age=None) -> Exchange:
        age = entry.age(now) if age is None else age
        response, note = answer.from_store(request, entry, age)
        if note:
            reason += f"; {note}"
        return Exchange(response, outcome, reason, 0, 0, age)

    def _error(self, now: float, reason: str, sent: int) -> Exchange:
        return Exchange(answer.gateway_timeout(now), "error", reason, sent, 0, None)

    def _record(self, exchange: Exchange) -> Exchange:
        self._counts[exchange.outcome] += 1
        self._origin_requests += exchange.origin_requests
        self._origin_bytes += exchange.origin_bytes
        self._bytes_served += len(exchange.response.body)
        return exchange
