"""A whole design evaluated against a day of traffic: latency by tier, requests reaching each
tier, cost per hour, what one failure does, and the first tier to saturate as traffic grows.

How the tiers add up (each tier's numbers come from its topic's model, :mod:`.tiers`):

* **Rates.** A share ``c`` of the requests are cacheable reads; the HTTP caches forward a
  share ``f`` of them (browse runs on a real RFC 9111 cache), so the balancer sees
  ``λ·(1 − c + c·f)``. The app pool follows that day (HPA or fixed); the *worst moment* is
  the step where the pool is busiest (arrivals × work ÷ ready servers) — during the flash
  crowd, before the autoscaler catches up. Reads the app makes go to the server-side cache
  (hit ratio ``h``); misses and writes go to the database, spread over the shards by the
  shard rule and the keys' popularity.
* **Latency.** At the worst moment :data:`~.tiers.REQUESTS` requests go through the balancer
  and servers (the balancing topic's run); each then waits for its session (the sessions
  model's added latency), its cache lookup (:data:`CACHE_GET_MS`) and — on a miss or a
  write — its shard's node (M/M/1: a node of capacity C at load ρ answers in an exponential
  time of mean 1/(C(1 − ρ)), the busiest node's load from read scaling) plus, for a write,
  a commit latency drawn from the replication model's run. Requests answered by an HTTP
  cache take 0 ms (a browser's copy) or :data:`PROXY_HOP_MS` (the shared proxy). The
  end-to-end percentiles are over every request; a tier's are over the requests that reach
  it. ``breakdown_p99_ms`` splits the requests *at* the 99th percentile by tier (the mean
  time in each tier of the requests ranked 98.5–99.5 %), so its parts add up to the p99.
* **Failure of one component** (at the worst moment, one at a time): an app server (the
  sessions model's run with a crash, scaled to this traffic), the balancer (replaced in
  :data:`BALANCER_REPAIR_S`, or a VRRP backup taking over in the failover model's
  ``master_down_interval_s``), a cache node (the database takes every read until it refills)
  and the primary of the busiest shard (the replication model: lost acknowledged writes and
  refused writes at a failover; a restart of :data:`DB_RESTART_S` with no replica).
* **Growth.** Each tier with a capacity (balancer, the largest app pool the design allows,
  the busiest shard) divided by its load at the day's peak: the smallest ratio is the
  factor by which traffic can grow before that tier saturates (cache hit ratios held as
  they are).

Limits: quasi-static (the worst moment's rate held for the run), one request = one key
read or write, HTTP hit shares computed at the worst moment's rate and held for the day.

One file of about 500 lines: how the tiers add up is one computation, read in the order the
docstring above gives; the tiers themselves are in :mod:`.tiers`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html, balancing
from scalekit.balancing.chokepoint import balancer_capacity_rps
from scalekit.design import tiers
from scalekit.design.choices import Design, Prices, Traffic

__all__ = ["TIERS", "COMPONENTS", "Rows", "Tier", "Failure", "DesignResult", "DesignComparison",
           "evaluate", "compare", "PROXY_HOP_MS", "CACHE_GET_MS", "BALANCER_REPAIR_S",
           "SERVER_RESTART_S", "DB_RESTART_S", "VRRP_INTERVAL_S"]

TIERS = ("HTTP cache", "balancer", "app servers", "sessions", "server-side cache", "database")
COMPONENTS = ("app server", "balancer", "cache node", "database primary")
#: One request through a shared caching proxy near the users (ms).
PROXY_HOP_MS = 1.0
#: One GET from a cache node on the same network (ms; Redis answers in 0.1–0.5 ms).
CACHE_GET_MS = 0.5
#: Replacing a lone balancer or a lone app server (s): a new VM booted and put in service.
BALANCER_REPAIR_S = 300.0
SERVER_RESTART_S = 120.0
#: A database primary's crash recovery when no replica can be promoted (s).
DB_RESTART_S = 30.0
#: The VRRP advertisement interval of a balancer pair (s; keepalived's default is 1 s).
VRRP_INTERVAL_S = 1.0


class Rows:
    """Rows to show as a table in a notebook (``_repr_html_``) or a console (repr): what
    :meth:`DesignResult.tier_table` and :meth:`DesignResult.failure_table` return."""

    def __init__(self, rows: list[dict], note: str = "") -> None:
        self.rows, self.note = rows, note

    def __repr__(self) -> str:
        return "\n".join(" | ".join(f"{k}: {_html.cell(v)}" for k, v in r.items())
                         for r in self.rows)

    def _repr_html_(self) -> str:
        return _html.rows_table(self.rows, note=self.note)


@dataclass(frozen=True, eq=False, repr=False)
class Tier(_html.ScalarTable):
    """One tier at the worst moment: requests reaching it (per s, and as a share of all),
    its latency percentiles over those requests (ms), the busiest unit's utilisation (NaN:
    no capacity modelled) and its cost per hour."""

    name: str
    requests_rps: float
    share: float
    p50_ms: float
    p99_ms: float
    utilisation: float
    cost_per_h: float


@dataclass(frozen=True, eq=False, repr=False)
class Failure(_html.ScalarTable):
    """One component failing at the worst moment: ``outage_s`` without it, the requests
    that fail, ``availability`` over the hour of the failure (served ÷ offered), the share of
    logged-in users who lose their session, acknowledged writes lost, and a note."""

    component: str
    outage_s: float
    failed_requests: float
    availability: float
    sessions_lost: float
    writes_lost: float
    note: str


@dataclass(frozen=True, eq=False)
class DesignResult:
    """A design's evaluation (see the module). Latencies in ms, rates in requests/s, costs
    in $/h. ``session_loss_rate`` is the share of a logged-in user's requests that find no
    session with no failure at all (the sessions model's ``lost_rate``: "none" behind a
    balancer loses most). ``tiers`` and ``failures`` are tuples of :class:`Tier` and
    :class:`Failure`; ``pool`` (the day's :class:`~scalekit.servers.AutoscaleResult`),
    ``through`` (the balancer run) and ``samples_ms`` (forwarded requests × tiers) are the
    evidence."""

    design: Design
    traffic: Traffic
    prices: Prices
    worst_at_s: float
    offered_rps: float
    peak_rps: float
    servers: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    unstable: bool
    saturated: str
    first_to_saturate: str
    growth_to_saturate: float
    cost_per_h: float
    http_forwarded: float
    http_stale_share: float
    cache_hit_ratio: float
    cache_stale_share: float
    db_utilisation: float
    slo_missed_share: float
    session_loss_rate: float
    tiers: tuple = field(repr=False)
    failures: tuple = field(repr=False)
    costs: dict = field(repr=False)
    breakdown_p50_ms: dict = field(repr=False)
    breakdown_p99_ms: dict = field(repr=False)
    pool: object = field(repr=False)
    through: object = field(repr=False)
    samples_ms: np.ndarray = field(repr=False)

    def tier(self, name: str) -> Tier:
        """The tier called ``name`` (one of :data:`TIERS`)."""
        return self.tiers[TIERS.index(_check.choice("name", name, TIERS))]

    def failure(self, component: str) -> Failure:
        """The failure of ``component`` (one of :data:`COMPONENTS`)."""
        return self.failures[COMPONENTS.index(_check.choice("component", component,
                                                            COMPONENTS))]

    def meets(self, p99_ms: float, budget_per_h: float | None = None) -> bool:
        """True when the p99 is within ``p99_ms`` (and the cost within ``budget_per_h``)."""
        slo = _check.positive("p99_ms", p99_ms)
        budget = _check.optional(_check.non_negative, "budget_per_h", budget_per_h,
                                 meaning="no budget")
        return bool(self.p99_ms <= slo and (budget is None or self.cost_per_h <= budget))

    def summary(self) -> dict:
        return {"p50 (ms)": self.p50_ms, "p99 (ms)": self.p99_ms,
                "cost ($/h)": self.cost_per_h, "app servers at the worst moment": self.servers,
                "database utilisation at the peak": self.db_utilisation,
                "first to saturate": f"{self.first_to_saturate} at ×{self.growth_to_saturate:.2g}"
                                     " today's traffic",
                "worst availability (one failure)": min(f.availability for f in self.failures),
                "acknowledged writes lost (primary fails)":
                    self.failure("database primary").writes_lost}

    def table(self) -> _html.Table:
        """Every scalar field."""
        return _html.Table({k: v for k, v in vars(self).items()
                            if isinstance(v, int | float | str | bool)})

    def tier_rows(self) -> list[dict]:
        return [{"tier": t.name, "requests/s": t.requests_rps, "share": t.share,
                 "p50 (ms)": t.p50_ms, "p99 (ms)": t.p99_ms, "utilisation": t.utilisation,
                 "$/h": t.cost_per_h} for t in self.tiers]

    def failure_rows(self) -> list[dict]:
        return [{"fails": f.component, "outage (s)": f.outage_s,
                 "failed requests": f.failed_requests, "availability (hour)": f.availability,
                 "sessions lost": f.sessions_lost, "writes lost": f.writes_lost,
                 "note": f.note} for f in self.failures]

    def tier_table(self) -> Rows:
        """The tiers as a table: requests, latency percentiles, utilisation, cost."""
        return Rows(self.tier_rows(), "at the worst moment; a tier's percentiles are over the "
                    "requests that reach it")

    def failure_table(self) -> Rows:
        """Each component's failure as a table."""
        return Rows(self.failure_rows(), "one component at a time, at the worst moment")

    def __repr__(self) -> str:
        return (f"DesignResult(p50={self.p50_ms:.3g} ms, p99={self.p99_ms:.3g} ms, "
                f"cost={self.cost_per_h:.3g} $/h, first to saturate: {self.first_to_saturate}"
                f" at ×{self.growth_to_saturate:.2g})")

    def _repr_html_(self) -> str:
        note = (f"unstable: the {self.saturated} cannot keep up at the worst moment — "
                "latencies grow for as long as it lasts" if self.unstable else "")
        return _html.key_value_table(self.summary(), note)


@dataclass(frozen=True, eq=False)
class DesignComparison:
    """Several designs' results on one traffic, in order, by name."""

    results: dict

    def __getitem__(self, name: str) -> DesignResult:
        return self.results[name]

    def rows(self) -> list[dict]:
        return [{"design": name, "p50 (ms)": r.p50_ms, "p99 (ms)": r.p99_ms,
                 "cost ($/h)": r.cost_per_h, "first to saturate": r.first_to_saturate,
                 "growth": r.growth_to_saturate,
                 "worst availability": min(f.availability for f in r.failures)}
                for name, r in self.results.items()]

    def cheapest(self, p99_ms: float) -> str | None:
        """The cheapest design whose p99 is within ``p99_ms`` (None: none is)."""
        ok = [n for n, r in self.results.items() if r.meets(p99_ms)]
        return min(ok, key=lambda n: self.results[n].cost_per_h) if ok else None

    def __repr__(self) -> str:
        return "DesignComparison(" + ", ".join(
            f"{n}: p99 {r.p99_ms:.3g} ms, {r.cost_per_h:.3g} $/h"
            for n, r in self.results.items()) + ")"

    def _repr_html_(self) -> str:
        return _html.rows_table(self.rows())


# --------------------------------------------------------------------------- evaluation


class _Ranked:
    """Values with weights, sorted once: weighted quantiles, and the requests ranked near
    one (the breakdown by tier)."""

    def __init__(self, values: np.ndarray, weights: np.ndarray):
        self.order = np.argsort(values, kind="stable")
        self.values, self.weights = values, weights
        cum = np.cumsum(weights[self.order])
        self.cum = cum / cum[-1]

    def quantile(self, q: float) -> float:
        i = int(np.searchsorted(self.cum, q, side="left"))
        return float(self.values[self.order[min(i, self.values.size - 1)]])

    def breakdown(self, parts: np.ndarray, q: float) -> dict:
        """The weighted mean of each tier's time over the requests ranked q ± 0.5 %."""
        near = self.order[(self.cum >= q - 0.005) & (self.cum <= q + 0.005)]
        if near.size == 0:
            near = self.order[[min(int(np.searchsorted(self.cum, q)), self.order.size - 1)]]
        w = self.weights[near]
        with np.errstate(invalid="ignore"):
            means = (parts[near] * w[:, None]).sum(axis=0) / w.sum()
        return dict(zip(TIERS, (float(x) for x in means), strict=True))


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    return _Ranked(values, weights).quantile(q)


def _pct(x: np.ndarray) -> tuple[float, float]:
    if x.size == 0:
        return math.nan, math.nan
    with np.errstate(invalid="ignore"):  # inf (a saturated node) stays inf
        return tuple(float(v) for v in np.percentile(x, [50, 99], method="inverted_cdf"))


def evaluate(design: Design, traffic: Traffic | None = None, prices: Prices | None = None
             ) -> DesignResult:
    """Evaluate ``design`` against ``traffic`` (default :class:`Traffic`) with ``prices``
    (default :class:`Prices`); see the module for how."""
    _check.instance("design", design, Design)
    traffic = Traffic() if traffic is None else _check.instance("traffic", traffic, Traffic)
    prices = Prices() if prices is None else _check.instance("prices", prices, Prices)
    d, t = design, traffic
    service_s = d.service_ms / 1e3
    r, c = t.read_share, t.cacheable_share
    day = tiers.day(t)
    # 1. HTTP caching at the day's busiest rate, then the day the app pool sees
    http = tiers.http_tier(d.max_age_s, d.shared_cache, c * day.peak_rps / t.pages,
                           t.revisit_every_s, t.page_update_every_s, t.seed)
    fwd = 1.0 - c + c * http.forwarded
    pool = tiers.app_pool(t, fwd, d.autoscale, d.servers, d.target_utilisation,
                          d.min_servers, d.max_servers, service_s)
    k = int(np.argmax(pool.utilisation))
    n = int(pool.servers_ready[k])
    lam_fwd = float(pool.arrival_rps[k])
    lam = lam_fwd / fwd
    # 2–3. balancer and app servers at the worst moment
    through = tiers.through_balancer(lam_fwd, n, d.policy, d.balancer_cores, service_s, t.seed)
    # 4. sessions
    calm, crashed = tiers.sessions_runs(d.sessions, n, d.policy, service_s, t.seed)
    # 5. server-side cache, on the reads the app makes
    reads_fwd = lam * (r - c + c * http.forwarded)
    writes = lam * (1.0 - r)
    hit, _, _, cache_stale = tiers.cache_hit(d.cache_keys, d.eviction, d.cache_ttl_s,
                                             reads_fwd, writes, t.keys, t.skew)
    # 6. database
    shares = tiers.shard_shares(d.shard_strategy, d.shards, t.keys, t.skew)
    node_c = 1e3 / d.db_query_ms

    def db_load(rate_reads_fwd, rate_writes, hit_ratio):
        rate = rate_reads_fwd * (1.0 - hit_ratio) + rate_writes
        w = rate_writes / rate if rate > 0 else 0.0
        cap = tiers.db_capacity_rps(d.replicas, w, node_c)
        return rate, rate * shares / cap  # each shard's node utilisation

    lam_db, rho = db_load(reads_fwd, writes, hit)
    peak_scale = day.peak_rps / lam
    _, rho_peak = db_load(reads_fwd * peak_scale, writes * peak_scale, hit)
    commit_calm, commit_failed = (
        tiers.commit_runs(d.replicas, d.commit, d.replica_delay_ms / 1e3, t.seed)
        if d.replicas else (None, None))

    # --- per forwarded request: time in each tier
    a = through.arrivals_at
    m = (a >= through.warmup_s) & (a <= through.horizon_s)
    size = int(m.sum())
    rng = np.random.default_rng(t.seed)
    samples = np.zeros((size, len(TIERS)))
    samples[:, 0] = PROXY_HOP_MS if d.shared_cache else 0.0
    samples[:, 1] = (through.balanced_at[m] - a[m]) * 1e3
    samples[:, 2] = (through.departures_at[m] - through.balanced_at[m]) * 1e3
    samples[:, 3] = calm.added_latency_ms
    is_write = rng.random(size) < writes / lam_fwd
    is_read = ~is_write
    if d.cache_keys:
        samples[is_read, 4] = CACHE_GET_MS
    to_db = is_write | (is_read & (rng.random(size) < 1.0 - hit))
    shard = rng.choice(d.shards, size=size, p=shares / shares.sum())
    headroom = node_c * (1.0 - rho[shard])
    with np.errstate(divide="ignore"):
        query = np.where(headroom > 0, rng.exponential(1.0, size) / np.where(
            headroom > 0, headroom, 1.0), np.inf) * 1e3
    samples[to_db, 5] = query[to_db]
    if commit_calm is not None and commit_calm.commit_s.size:
        samples[is_write, 5] += rng.choice(commit_calm.commit_s, size=int(is_write.sum())) * 1e3
    samples.setflags(write=False)

    # --- end to end, with the requests the HTTP caches answered
    answered_browser = c * (1.0 - http.forwarded_browser)
    answered_proxy = c * http.forwarded_browser * (1.0 - http.forwarded_proxy)
    total = np.concatenate([[0.0, PROXY_HOP_MS], samples.sum(axis=1)])
    parts = np.vstack([np.zeros(len(TIERS)), np.eye(len(TIERS))[0] * PROXY_HOP_MS, samples])
    weights = np.concatenate([[answered_browser, answered_proxy],
                              np.full(size, fwd / max(size, 1))])
    ranked = _Ranked(total, weights)
    p50, p99 = ranked.quantile(0.50), ranked.quantile(0.99)
    finite = np.isfinite(total)
    mean = float(np.dot(total[finite], weights[finite]) / weights[finite].sum()) \
        if finite.all() else math.inf

    costs = _costs(d, prices, pool, day.peak_rps)
    reach = (lam, lam_fwd, lam_fwd, lam_fwd, reads_fwd if d.cache_keys else 0.0, lam_db)
    hop = np.array([0.0, PROXY_HOP_MS if d.shared_cache else 0.0])
    at_http = np.array([answered_browser, 1.0 - answered_browser])
    stats = [(_weighted_quantile(hop, at_http, 0.5), _weighted_quantile(hop, at_http, 0.99))]
    stats += [_pct(samples[:, i]) for i in (1, 2, 3)]
    stats += [_pct(samples[is_read, 4]) if d.cache_keys else (math.nan, math.nan)]
    stats += [_pct(samples[to_db, 5])]
    bal_cap = balancer_capacity_rps(d.policy, n, cores=d.balancer_cores)
    util = (math.nan, lam_fwd / bal_cap, float(pool.utilisation[k]), math.nan, math.nan,
            float(rho.max()))
    tier_list = tuple(
        Tier(name, float(x), float(x / lam), s[0], s[1], u, costs[name])
        for name, x, s, u in zip(TIERS, reach, stats, util, strict=True))
    db_unstable = bool(rho.max() >= 1.0)
    saturated = ("app servers" if through.saturated in ("servers", "both") else
                 "balancer" if through.saturated == "balancer" else
                 "database" if db_unstable else "none")
    growth, first = _growth(d, prices, fwd, day.peak_rps, rho_peak, service_s)
    failures = _failures(d, n, lam, lam_fwd, service_s, calm, crashed, commit_failed,
                         reads_fwd, writes, shares, lam_db, db_load)
    return DesignResult(
        design=d, traffic=t, prices=prices, worst_at_s=float(pool.times_s[k]),
        offered_rps=lam, peak_rps=day.peak_rps, servers=n, p50_ms=p50, p99_ms=p99,
        mean_ms=mean, unstable=saturated != "none", saturated=saturated,
        first_to_saturate=first, growth_to_saturate=growth,
        cost_per_h=float(sum(costs.values())), http_forwarded=http.forwarded,
        http_stale_share=http.stale_share, cache_hit_ratio=hit,
        cache_stale_share=cache_stale, db_utilisation=float(rho_peak.max()),
        slo_missed_share=pool.slo_violation_fraction, session_loss_rate=calm.lost_rate,
        tiers=tier_list, failures=failures,
        costs=costs, breakdown_p50_ms=ranked.breakdown(parts, 0.50),
        breakdown_p99_ms=ranked.breakdown(parts, 0.99), pool=pool,
        through=through, samples_ms=samples)


def _costs(d: Design, p: Prices, pool, peak_rps: float) -> dict:
    hours = pool.duration_s / 3600.0
    cache_gb = d.cache_keys * p.entry_kb / 1e6
    return {
        "HTTP cache": math.ceil(peak_rps / p.proxy_capacity_rps) * p.proxy_per_h
        if d.shared_cache else 0.0,
        "balancer": (2 if d.balancer_pair else 1) * p.balancer_per_h,
        "app servers": pool.server_hours / hours * p.app_server_per_h,
        "sessions": 0.0,  # the database strategy's store lives on the database nodes
        "server-side cache": math.ceil(cache_gb / p.cache_node_gb) * p.cache_node_per_h
        if d.cache_keys else 0.0,
        "database": d.shards * (1 + d.replicas) * p.db_node_per_h,
    }


def _growth(d: Design, p: Prices, fwd, peak_rps, rho_peak, service_s) -> tuple[float, str]:
    largest = d.max_servers if d.autoscale else d.servers
    lam_fwd = peak_rps * fwd
    bal = balancer_capacity_rps(d.policy, largest, cores=d.balancer_cores)
    room = {"balancer": bal / lam_fwd, "app servers": largest / (lam_fwd * service_s),
            "database": 1.0 / float(rho_peak.max()) if rho_peak.max() > 0 else math.inf}
    first = min(room, key=room.get)
    return float(room[first]), first


def _failures(d, n, lam, lam_fwd, service_s, calm, crashed, commit_failed, reads_fwd,
              writes, shares, lam_db, db_load) -> tuple:
    hour = lam * 3600.0

    def failure(component, outage, failed, sessions_lost, writes_lost, note):
        return Failure(component, float(outage), float(failed),
                       float(max(0.0, 1.0 - failed / hour)), float(sessions_lost),
                       float(writes_lost), note)

    in_memory = d.sessions in ("none", "sticky_cookie", "sticky_ip")
    if crashed is None:
        server = failure("app server", SERVER_RESTART_S, lam_fwd * SERVER_RESTART_S,
                         1.0 if in_memory else 0.0, 0.0,
                         "the only server: everything waits for a new one")
    else:
        # the model runs a sample of at most 16 servers: one of them holds 1/16 of the
        # users; here one of n does
        per_s = crashed.requests / crashed.duration_s * n / crashed.servers
        lost = max(0, crashed.lost - calm.lost) / crashed.users * crashed.servers / n
        left = lam_fwd * service_s >= n - 1
        server = failure("app server", crashed.marked_down_at - crashed.server_fails_at,
                         crashed.failed / per_s * lam_fwd, lost, 0.0,
                         f"the {n - 1} left are overloaded" if left else
                         "the others take its load")
    if d.balancer_pair:
        down = balancing.master_down_interval_s(VRRP_INTERVAL_S)
        bal = failure("balancer", down, lam_fwd * down, 0.0, 0.0,
                      "the backup takes over (VRRP); cached pages are still served")
    else:
        bal = failure("balancer", BALANCER_REPAIR_S, lam_fwd * BALANCER_REPAIR_S, 0.0, 0.0,
                      "no backup: a new balancer is booted; cached pages are still served")
    if d.cache_keys:
        _, cold = db_load(reads_fwd, writes, 0.0)
        cache = failure("cache node", 0.0, 0.0, 0.0, 0.0,
                        f"every read goes to the database: busiest node at {cold.max():.0%}"
                        + (" — overloaded until the cache refills" if cold.max() >= 1 else ""))
    else:
        cache = failure("cache node", 0.0, 0.0, 0.0, 0.0, "no server-side cache")
    shard_rate = lam_db * float(shares.max())
    shard_writes = writes * float(shares.max())
    if commit_failed is None:
        db = failure("database primary", DB_RESTART_S, shard_rate * DB_RESTART_S, 0.0, 0.0,
                     "no replica: the shard is down until the primary restarts from its log")
    else:
        scale = shard_writes / commit_failed.settings.writes_per_s
        db = failure("database primary", commit_failed.settings.failover_s,
                     commit_failed.unavailable * scale, 0.0, commit_failed.lost_writes * scale,
                     f"a replica is promoted ({d.commit}): "
                     + ("acknowledged writes in flight are lost" if commit_failed.lost_writes
                        else "no acknowledged write is lost"))
    return server, bal, cache, db


def compare(designs: dict | Sequence, traffic: Traffic | None = None,
            prices: Prices | None = None) -> DesignComparison:
    """Evaluate several designs on one traffic: a dict name → :class:`Design`, or a list
    (named "design 1", "design 2" …)."""
    if isinstance(designs, dict):
        named = dict(designs)
    elif isinstance(designs, Sequence) and not isinstance(designs, str):
        named = {f"design {i + 1}": x for i, x in enumerate(designs)}
    else:
        raise TypeError(f"designs must be a dict of name → Design or a list of Designs, got "
                        f"{type(designs).__name__}")
    if not named:
        raise ValueError("designs must hold at least one Design")
    if len(named) > 50:
        raise ValueError(f"designs may hold at most 50 designs, got {len(named)}")
    for name, x in named.items():
        _check.text("design name", name, max_len=80)
        _check.instance(f"designs[{name!r}]", x, Design)
    return DesignComparison({name: evaluate(x, traffic, prices) for name, x in named.items()})
