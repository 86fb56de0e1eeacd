"""A browser revisiting one page through its HTTP cache: fewer requests, older pages.

An origin serves a page of ``page_bytes`` bytes with ``Cache-Control: max-age=<max_age_s>``,
a ``Date`` and — when ``etag`` is on — the validators ``ETag`` and ``Last-Modified``. The
page changes at the events of a Poisson process with mean gap ``update_every_s`` (edits
that arrive independently of each other, so the time to the next one never depends on the
time since the last). A visitor opens the page at the events of a second, independent
Poisson process with mean gap ``visit_every_s``, through a real :class:`~.HttpCache`
(a browser's private cache, or a shared one) on a simulated clock.

Each visit is a hit (no network at all), a 304 revalidation (about ``HEADER_BYTES`` over
the network) or a full response (``page_bytes + HEADER_BYTES``). A hit shows the version
the cache holds; it is *stale* when the origin has changed the page since — the price of
max-age. With no validators a stale copy must be fetched again in full.

For Poisson updates (mean gap U) and visits (mean gap V), a cached copy a seconds old is
out of date with probability 1 − e^(−a/U); every copy is served for ages in [0, M) with
M = max_age_s, so by renewal-reward the share of stale visits is
(M − U·(1 − e^(−M/U))) / (V + M) — zero at M = 0, rising towards 1 as M grows. (Date has
whole seconds, so a copy starts up to a second old and lives half a second less on average;
tests/test_caching_browser.py derives the exact form and checks the simulation against it.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html
from scalekit.caching.http.cache import HttpCache
from scalekit.caching.http.messages import Headers, Request, Response
from scalekit.caching.http.rules import (
    DELTA_SECONDS_CAP,
    format_http_date,
    if_none_match_matches,
)

__all__ = ["Browse", "browse", "HEADER_BYTES", "MAX_VISITS", "START_AT"]

#: Bytes counted for a response's status line and headers (a 304 is only this).
HEADER_BYTES = 300
#: The most visits (duration_s / visit_every_s) or updates one run may expect.
MAX_VISITS = 200_000
#: The simulated clock's zero, in seconds since the epoch (2023-11-14 22:13:20 UTC).
START_AT = 1_700_000_000.0

_PAGE = "/page"


@dataclass(frozen=True, eq=False, repr=False)
class Browse(_html.ScalarTable):
    """Per visit: ``times`` (s since the start), ``outcome`` (from ``OUTCOMES``),
    ``stale`` (the version shown is older than the origin's), ``bytes`` over the network;
    ``update_times`` when the page changed. Totals below; ``bytes_without_cache`` is every
    visit a full response, ``mean_staleness_s`` how long the shown version had been out of
    date, averaged over stale visits (0 if none)."""

    max_age_s: float
    update_every_s: float
    visit_every_s: float
    duration_s: float
    etag: bool
    shared: bool
    page_bytes: int
    visits: int
    origin_requests: int
    hits: int
    not_modified: int
    full_responses: int
    bytes_total: int
    bytes_without_cache: int
    stale_visits: int
    stale_share: float
    mean_staleness_s: float
    times: np.ndarray = field(repr=False)
    outcome: np.ndarray = field(repr=False)
    stale: np.ndarray = field(repr=False)
    bytes: np.ndarray = field(repr=False)
    update_times: np.ndarray = field(repr=False)
    version: np.ndarray = field(repr=False)


def _poisson_times(rng: np.random.Generator, mean_gap_s: float, duration_s: float):
    """Event times of a Poisson process with mean gap ``mean_gap_s`` in (0, duration_s]."""
    expected = duration_s / mean_gap_s
    n = int(expected + 10 * np.sqrt(expected) + 20)
    times = np.cumsum(rng.exponential(mean_gap_s, n))
    while times[-1] <= duration_s:
        more = times[-1] + np.cumsum(rng.exponential(mean_gap_s, n))
        times = np.concatenate([times, more])
    return times[times <= duration_s]


class _Origin:
    """The page's server: version k is the one after the k-th update (k = 0 at the start)."""

    def __init__(self, update_times: np.ndarray, max_age_s: float, etag: bool,
                 page_bytes: int, clock):
        self.update_times, self.etag, self.clock = update_times, etag, clock
        self.max_age = int(max_age_s)
        self.body = bytes(page_bytes)

    def version_at(self, t: float) -> int:
        return int(np.searchsorted(self.update_times, t, side="right"))

    def __call__(self, request: Request) -> Response:
        now = self.clock()
        v = self.version_at(now - START_AT)
        changed_at = START_AT - 86_400 if v == 0 else START_AT + self.update_times[v - 1]
        headers = Headers([("Date", format_http_date(now)),
                                ("Cache-Control", f"max-age={self.max_age}"),
                                ("X-Version", str(v))])
        if self.etag:
            tag = f'"v{v}"'
            headers.add("ETag", tag)
            headers.add("Last-Modified", format_http_date(changed_at))
            if if_none_match_matches(request.headers.get("If-None-Match"), tag):
                return Response(304, headers)
        return Response(200, headers, self.body)


def browse(max_age_s: float = 60, *, update_every_s: float = 300, visit_every_s: float = 20,
           duration_s: float = 3600, etag: bool = True, shared: bool = False,
           page_bytes: int = 50_000, seed: int | None = 0) -> Browse:
    """Simulate one visitor revisiting a changing page for ``duration_s`` seconds.

    ``max_age_s`` is the page's max-age in whole seconds (0: revalidate on every visit);
    ``update_every_s`` and ``visit_every_s`` are the mean gaps (s) between page changes and
    between visits, both Poisson; ``etag`` sends ETag and Last-Modified (False: no
    validators, so every fetch is a full response); ``shared`` uses a shared cache instead
    of the browser's private one; ``page_bytes`` is the page's size. See the module.
    """
    max_age = _check.integer("max_age_s", max_age_s, low=0, high=DELTA_SECONDS_CAP)
    update_every = _check.positive("update_every_s", update_every_s)
    visit_every = _check.positive("visit_every_s", visit_every_s)
    duration = _check.positive("duration_s", duration_s)
    etag = _check.boolean("etag", etag)
    shared = _check.boolean("shared", shared)
    page_bytes = _check.integer("page_bytes", page_bytes, low=0, high=100_000_000)
    seed = _check.seed(seed)
    for name, gap in (("visit_every_s", visit_every), ("update_every_s", update_every)):
        if duration / gap > MAX_VISITS:
            raise ValueError(f"duration_s / {name} must be at most {MAX_VISITS:,}, got "
                             f"{duration:g} / {gap:g} = {duration / gap:,.0f}")

    updates_rng, visits_rng = (np.random.default_rng(s)
                               for s in np.random.SeedSequence(seed).spawn(2))
    update_times = _poisson_times(updates_rng, update_every, duration)
    times = _poisson_times(visits_rng, visit_every, duration)
    now = [START_AT]
    origin = _Origin(update_times, max_age, etag, page_bytes, lambda: now[0])
    cache = HttpCache(shared=shared, clock=lambda: now[0])

    n = times.size
    outcome = np.empty(n, dtype=object)
    shown = np.empty(n, dtype=int)
    net = np.zeros(n, dtype=np.int64)
    for i, t in enumerate(times):
        now[0] = START_AT + t
        ex = cache.fetch(Request("GET", _PAGE), origin)
        outcome[i] = ex.outcome
        shown[i] = int(ex.response.headers.get("X-Version"))
        net[i] = ex.origin_requests * HEADER_BYTES + ex.origin_bytes
    current = np.searchsorted(update_times, times, side="right")
    stale = shown < current
    # the shown version went out of date at the update that followed it
    went_stale_at = np.append(update_times, np.inf)[np.where(stale, shown, -1)]
    out_of_date_s = np.where(stale, times - went_stale_at, 0.0)
    outcome = outcome.astype(str)
    for a in (times, outcome, stale, net, update_times, shown):
        a.setflags(write=False)
    origin_requests = int(np.isin(outcome, ("miss", "revalidated", "replaced", "pass")).sum())
    stale_visits = int(stale.sum())
    return Browse(
        max_age_s=max_age, update_every_s=update_every, visit_every_s=visit_every,
        duration_s=duration, etag=etag, shared=shared, page_bytes=page_bytes, visits=n,
        origin_requests=origin_requests, hits=int((outcome == "hit").sum()),
        not_modified=int((outcome == "revalidated").sum()),
        full_responses=int(np.isin(outcome, ("miss", "replaced", "pass")).sum()),
        bytes_total=int(net.sum()), bytes_without_cache=n * (page_bytes + HEADER_BYTES),
        stale_visits=stale_visits, stale_share=stale_visits / n if n else 0.0,
        mean_staleness_s=float(out_of_date_s[stale].mean()) if stale_visits else 0.0,
        times=times, outcome=outcome, stale=stale, bytes=net, update_times=update_times,
        version=shown)
