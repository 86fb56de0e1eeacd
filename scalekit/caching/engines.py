"""The caching models beside real nginx and real Valkey.

* :func:`proxy_cache_on_nginx` — one origin (:class:`scalekit.caching.Origin`), two shared
  caches in front of it: nginx's ``proxy_cache`` (:class:`~scalekit.engines.nginx.Nginx`)
  and the kit's :class:`~scalekit.caching.CachingProxy`; the same request sequence through
  each — a page fetched, fetched again, fetched after it expired; a private page; a
  ``no-cache`` page; a private page mislabelled public — and, step by step, what each cache
  did (nginx's ``X-Cache-Status``, the kit's ``X-Cache``), what it asked the origin (200 or
  304), what it holds afterwards (nginx's cache files, the kit's entries) and whether a user
  was served someone else's page. Where they differ they differ by design: nginx does not
  store ``no-cache`` responses at all (RFC 9111 §5.2.2.4 lets a cache store them and
  revalidate each time, which the kit does), and by default refetches an expired page whole
  (``EXPIRED``) where the kit revalidates it (``proxy_cache_revalidate on`` makes nginx do
  the same: ``REVALIDATED``).
* :func:`eviction_on_valkey` — a Zipf(``skew``) trace of cache-aside reads (a miss writes
  the key) replayed through real Valkey with ``maxmemory`` sized for ``capacity`` keys,
  under each ``maxmemory-policy``, beside the store model (:class:`scalekit.caching.Cache`,
  Redis's sampled eviction, ``samples=5``) on the same trace at the same number of keys
  Valkey actually held, and beside the closed forms under the independent reference model:
  Che's approximation for LRU, its random-eviction twin (also FIFO's), and the top-C sum
  for a perfect LFU. One finding the model does not share: Valkey's LRU clock ticks once a
  second, so a trace replayed in about a second looks equally recent everywhere and
  ``allkeys-lru`` evicts like ``allkeys-random`` (``replay_s`` says how long it took).

Without nginx or Valkey these raise :class:`~scalekit.engines.EngineUnavailable`
("skipped: …"). Units: seconds, bytes; hit ratios are fractions of the counted requests.
"""

from __future__ import annotations

import math
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html
from scalekit.caching.http import CachingProxy, Origin, get
from scalekit.caching.serverside import (
    Cache,
    che_lru_hit_ratio,
    che_random_hit_ratio,
    lfu_hit_ratio,
    zipf_popularities,
)
from scalekit.engines.nginx import Nginx, find_nginx
from scalekit.engines.valkey import Resp, ValkeyServer, find_valkey

__all__ = ["Step", "DEFAULT_STEPS", "CacheStep", "ProxyCacheComparison",
           "proxy_cache_on_nginx", "VALKEY_POLICIES", "PolicyOnValkey", "EvictionComparison",
           "eviction_on_valkey", "outcome_class"]


# --------------------------------------------------------------------------- nginx


@dataclass(frozen=True)
class Step:
    """One request of the sequence: ``path`` as ``user`` (a ``user=<name>`` cookie; None:
    anonymous), sent ``wait_s`` seconds after the previous step."""

    path: str
    user: str | None = None
    wait_s: float = 0.0

    def __post_init__(self):
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise ValueError(f"path must be a URL path starting with '/', got {self.path!r}")
        if self.user is not None and not (isinstance(self.user, str) and self.user.isalnum()):
            raise ValueError(f"user must be a name of letters and digits or None, "
                             f"got {self.user!r}")
        object.__setattr__(self, "wait_s", _check.number("wait_s", self.wait_s, low=0.0,
                                                         high=30.0))


#: The lecture's sequence (the home page lives 1 s; an expired entry is refreshed).
DEFAULT_STEPS = (
    Step("/"), Step("/"), Step("/static/app.css"), Step("/static/app.css"),
    Step("/news"), Step("/news"),
    Step("/profile", "alice"), Step("/profile", "alice"), Step("/profile", "bob"),
    Step("/leaky-profile", "alice"), Step("/leaky-profile", "bob"),
    Step("/", wait_s=2.05), Step("/"),
)
_CLASS = {"HIT": "hit", "MISS": "miss", "PASS": "miss", "BYPASS": "miss",
          "EXPIRED": "refreshed", "REVALIDATED": "refreshed", "REPLACED": "refreshed",
          "STALE": "stale", "UPDATING": "stale", "ERROR": "error", "": "miss"}


def outcome_class(status: str) -> str:
    """nginx's ``$upstream_cache_status`` or the kit's ``X-Cache`` in one vocabulary:
    ``hit`` (served from the cache), ``miss`` (nothing usable stored: forwarded),
    ``refreshed`` (a stored copy was stale: fetched again or revalidated), ``stale``,
    ``error``; any other status is ``other``."""
    _check.text("status", status, min_len=0)
    return _CLASS.get(status.upper(), "other")


@dataclass(frozen=True)
class CacheStep:
    """What one step did on each side: the cache status (``nginx``, ``kit``) and its class
    (:func:`outcome_class`), the statuses the origin answered that cache with (``()``: it
    was not asked), and whether the page served was another user's (``*_leaked``)."""

    path: str
    user: str | None
    nginx: str
    kit: str
    nginx_class: str
    kit_class: str
    nginx_origin: tuple[int, ...]
    kit_origin: tuple[int, ...]
    nginx_leaked: bool
    kit_leaked: bool

    @property
    def agree(self) -> bool:
        return self.nginx_class == self.kit_class


@dataclass(frozen=True, eq=False)
class ProxyCacheComparison:
    """The sequence through nginx and through the kit's proxy: ``steps``, what each cache
    holds at the end (``*_stored``: URL paths), the origin requests each caused, and how
    many steps' classes agree (``agreement``, a fraction)."""

    engine: str
    revalidate: bool
    steps: tuple[CacheStep, ...]
    nginx_stored: tuple[str, ...]
    kit_stored: tuple[str, ...]
    nginx_origin_requests: int
    kit_origin_requests: int
    agreement: float
    startup_s: float
    config_text: str = field(repr=False)

    @property
    def nginx_statuses(self) -> tuple[str, ...]:
        return tuple(s.nginx for s in self.steps)

    @property
    def kit_statuses(self) -> tuple[str, ...]:
        return tuple(s.kit for s in self.steps)

    def rows(self) -> list[dict]:
        return [{"step": i + 1, "request": s.path + (f" as {s.user}" if s.user else ""),
                 "nginx": s.nginx, "kit": s.kit, "same": "yes" if s.agree else "no",
                 "origin saw (nginx)": " ".join(map(str, s.nginx_origin)) or "-",
                 "origin saw (kit)": " ".join(map(str, s.kit_origin)) or "-",
                 "leak": ("nginx " if s.nginx_leaked else "") + ("kit" if s.kit_leaked
                                                                   else "")}
                for i, s in enumerate(self.steps)]

    def _repr_html_(self) -> str:
        return _html.rows_table(self.rows(), note=(
            f"{self.engine}; {sum(s.agree for s in self.steps)} of {len(self.steps)} steps "
            f"agree; stored at the end — nginx: {', '.join(self.nginx_stored) or 'nothing'}; "
            f"kit: {', '.join(self.kit_stored) or 'nothing'}"))


def _fetch(base: str, step: Step, origin: Origin, header: str):
    """One GET through a cache: its cache status, the origin statuses it caused, whether
    the page was another user's."""
    before = len(origin.log)
    reply = get(base + step.path, headers={"Cookie": f"user={step.user}"} if step.user
                else None)
    asked = tuple(e.status for e in list(origin.log)[before:])
    status = next((v for k, v in reply.headers.items() if k.lower() == header), "")
    owner = reply.text.split("Profile of ", 1)[1].split("<", 1)[0] \
        if "Profile of " in reply.text else None
    leaked = owner is not None and owner != (step.user or "anonymous")
    return status, asked, leaked


def proxy_cache_on_nginx(steps: Sequence[Step] = DEFAULT_STEPS, *,
                         home_max_age_s: int = 1, revalidate: bool = False,
                         binary=None) -> ProxyCacheComparison:
    """Send ``steps`` through nginx's ``proxy_cache`` and through the kit's
    :class:`~scalekit.caching.CachingProxy`, both in front of one
    :class:`~scalekit.caching.Origin` whose home page lives ``home_max_age_s`` s;
    ``revalidate`` turns on ``proxy_cache_revalidate``. Each step goes to nginx first, then
    to the kit's proxy."""
    if isinstance(steps, str | Step) or not isinstance(steps, Sequence) or not steps:
        raise ValueError(f"steps must be a non-empty sequence of Step, got {steps!r}")
    if not all(isinstance(s, Step) for s in steps):
        raise TypeError("steps must all be Step values")
    if sum(s.wait_s for s in steps) > 60:
        raise ValueError("steps wait more than 60 s in all; shorten the waits")
    age = _check.integer("home_max_age_s", home_max_age_s, low=1, high=3600)
    revalidate = _check.boolean("revalidate", revalidate)
    find_nginx(binary)
    done = []
    with Origin(home_max_age_s=age, max_lifetime_s=600) as origin, \
            Nginx(origin.url, revalidate=revalidate, binary=binary) as nginx, \
            CachingProxy(origin.url, max_lifetime_s=600) as kit:
        for step in steps:
            if step.wait_s:
                time.sleep(step.wait_s)
            n_status, n_asked, n_leak = _fetch(nginx.url, step, origin, "x-cache-status")
            k_status, k_asked, k_leak = _fetch(kit.url.rstrip("/"), step, origin, "x-cache")
            done.append(CacheStep(step.path, step.user, n_status, k_status,
                                  outcome_class(n_status), outcome_class(k_status), n_asked,
                                  k_asked, n_leak, k_leak))
        n_stored = sorted({urllib.parse.urlsplit(k).path or "/"
                           for k in (f"http://{x}" if "://" not in x else x
                                     for x in nginx.cached_keys())})
        k_stored = sorted({urllib.parse.urlsplit(e.url).path or "/"
                           for e in kit.cache.entries()})
        config, started, engine = nginx.config_text, nginx.startup_s, str(nginx.binary)
    return ProxyCacheComparison(
        engine=engine, revalidate=revalidate, steps=tuple(done),
        nginx_stored=tuple(n_stored), kit_stored=tuple(k_stored),
        nginx_origin_requests=sum(len(s.nginx_origin) for s in done),
        kit_origin_requests=sum(len(s.kit_origin) for s in done),
        agreement=sum(s.agree for s in done) / len(done), startup_s=started,
        config_text=config)


# --------------------------------------------------------------------------- Valkey

VALKEY_POLICIES = ("allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru",
                   "volatile-ttl")
#: A read: 1 if the key is there (a hit, which also touches it); else write a value of
#: ARGV[1] bytes (with a TTL of ARGV[2] seconds if > 0) and return 0. The value is made by
#: the server, so the pipelined commands stay small (a query buffer counts as used memory).
_READ_THROUGH = (b"if redis.call('GET', KEYS[1]) then return 1 end "
                 b"local v = string.rep('x', tonumber(ARGV[1])) "
                 b"if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], v, 'EX', ARGV[2]) "
                 b"else redis.call('SET', KEYS[1], v) end return 0")
_BATCH = 200
_TTL_S = 3600
MAX_TRACE = 200_000


@dataclass(frozen=True, eq=False, repr=False)
class PolicyOnValkey(_html.ScalarTable):
    """One ``maxmemory-policy``: Valkey's hit ratio over the counted requests, the model's
    on the same trace at the keys Valkey held (``model_sd``: its standard deviation over
    fresh traces; ``gap_sd`` = |engine − model| ÷ model_sd), and the closed forms at that
    size. ``held_keys`` — Valkey's mean DBSIZE over the counted part; ``evicted`` — its
    ``evicted_keys``; ``replay_s`` — how long the replay took (Valkey's LRU clock ticks once
    a second)."""

    policy: str
    engine_hit_ratio: float
    model_hit_ratio: float
    model_sd: float
    gap_sd: float
    che_lru: float
    che_random: float
    lfu_top: float
    held_keys: float
    evicted: int
    replay_s: float
    startup_s: float

    @property
    def theory(self) -> float:
        """The closed form for this policy: LFU's top-C sum, Che's LRU form for the LRU
        policies, the random-eviction form for random and volatile-ttl (FIFO here)."""
        kind = self.policy.split("-")[1]
        return {"lfu": self.lfu_top, "lru": self.che_lru}.get(kind, self.che_random)


@dataclass(frozen=True, eq=False)
class EvictionComparison:
    """Every policy's run on one Zipf trace (``keys`` keys, ``skew``, ``requests`` reads,
    the first ``warmup`` share not counted) with values of ``value_bytes``;
    ``maxmemory_bytes`` was sized for ``capacity`` keys at ``bytes_per_key`` (measured)."""

    engine: str
    keys: int
    skew: float
    requests: int
    warmup: float
    capacity: int
    value_bytes: int
    bytes_per_key: float
    maxmemory_bytes: int
    seed: int | None
    model_runs: int
    runs: dict[str, PolicyOnValkey] = field(repr=False)
    config_text: str = field(repr=False)

    def __getitem__(self, policy: str) -> PolicyOnValkey:
        return self.runs[policy]

    def rows(self) -> list[dict]:
        return [{"policy": p, "Valkey": r.engine_hit_ratio, "model": r.model_hit_ratio,
                 "model sd": r.model_sd, "closed form": r.theory, "Che LRU": r.che_lru,
                 "Che random": r.che_random, "keys held": r.held_keys,
                 "replay (s)": r.replay_s} for p, r in self.runs.items()]

    def _repr_html_(self) -> str:
        return _html.rows_table(self.rows(), note=(
            f"{self.engine}; {self.requests:,} Zipf({self.skew:g}) reads over {self.keys:,} "
            f"keys, maxmemory {self.maxmemory_bytes:,} bytes for ~{self.capacity} keys of "
            f"{self.value_bytes} bytes"))


def _trace(keys: int, skew: float, n: int, seed) -> np.ndarray:
    return np.random.default_rng(seed).choice(keys, size=n, p=zipf_popularities(keys, skew))


def _model_hits(trace: np.ndarray, capacity: int, policy: str, seed) -> np.ndarray:
    """The store model's hits on ``trace`` (a logical clock: one tick per read)."""
    tick = [0.0]
    cache = Cache(capacity, policy, samples=5, seed=seed, clock=lambda: tick[0])
    ttl = float(_TTL_S) if policy.startswith("volatile") else None
    hits = np.zeros(trace.size, dtype=bool)
    get, put = cache.get, cache.set
    for i, k in enumerate(trace.tolist()):
        tick[0] += 1e-3
        if get(k) is None:
            put(k, 1, ttl_s=ttl)
        else:
            hits[i] = True
    return hits


def _replay(server: ValkeyServer, trace: np.ndarray, value_bytes: int, ttl: int, skip: int):
    """Valkey's hits on ``trace`` and its mean DBSIZE over the counted part."""
    hits, sizes = [], []
    with server.client() as c:
        sha = c.call("SCRIPT", "LOAD", _READ_THROUGH).decode()
        for i in range(0, trace.size, _BATCH):
            chunk = trace[i:i + _BATCH].tolist()
            payload = b"".join(Resp.encode("EVALSHA", sha, 1, f"k{k}", value_bytes, ttl)
                               for k in chunk)
            replies = c.send_raw(payload, len(chunk))
            bad = next((r for r in replies if not isinstance(r, int)), None)
            if bad is not None:
                raise bad if isinstance(bad, Exception) else RuntimeError(repr(bad))
            hits += replies
            if i >= skip:
                sizes.append(c.call("DBSIZE"))
    return np.array(hits, dtype=bool), float(np.mean(sizes)) if sizes else math.nan


def _bytes_per_key(value_bytes: int, keys: int, binary) -> tuple[float, int]:
    """(bytes one key adds, used_memory with ``keys`` keys) on a fresh unlimited server."""
    with ValkeyServer(binary=binary) as server:
        with server.client() as c:
            sha = c.call("SCRIPT", "LOAD", _READ_THROUGH).decode()
            base = int(server.info("memory")["used_memory"])
            for i in range(0, keys, _BATCH):
                c.send_raw(b"".join(Resp.encode("EVALSHA", sha, 1, f"k{k}", value_bytes, 0)
                                    for k in range(i, min(keys, i + _BATCH))),
                           min(keys, i + _BATCH) - i)
            used = int(server.info("memory")["used_memory"])
    return (used - base) / keys, used


def eviction_on_valkey(policies: Sequence[str] = VALKEY_POLICIES, *, keys: int = 5000,
                       skew: float = 0.9, requests: int = 12_000, capacity: int = 500,
                       value_bytes: int = 1000, warmup: float = 0.25, model_runs: int = 3,
                       seed: int | None = 1, binary=None) -> EvictionComparison:
    """Replay ``requests`` Zipf(``skew``) reads over ``keys`` keys (a miss writes a value of
    ``value_bytes``; the ``volatile-*`` policies give every key a TTL of an hour) through a
    fresh Valkey per policy, ``maxmemory`` sized for ``capacity`` keys; the model and the
    closed forms at the keys Valkey held. ``model_runs`` fresh traces measure the model's
    spread. The first ``warmup`` share of the reads is not counted."""
    if isinstance(policies, str) or not isinstance(policies, Sequence) or not policies:
        raise ValueError(f"policies must be a non-empty list of maxmemory policies, "
                         f"got {policies!r}")
    chosen = tuple(_check.choice("policies", p, VALKEY_POLICIES[:3] + (
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl")) for p in policies)
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"policies must be distinct, got {list(chosen)!r}")
    k = _check.integer("keys", keys, low=10, high=1_000_000)
    s = _check.number("skew", skew, low=0.0, high=3.0)
    n = _check.integer("requests", requests, low=100, high=MAX_TRACE)
    cap = _check.integer("capacity", capacity, low=50, high=k - 1)
    size = _check.integer("value_bytes", value_bytes, low=100, high=100_000)
    share = _check.number("warmup", warmup, low=0.0, high=0.9)
    runs_n = _check.integer("model_runs", model_runs, low=2, high=50)
    seed = _check.seed(seed)
    if cap * size > 256 * 2**20:
        raise ValueError(f"capacity × value_bytes = {cap * size:,} bytes: at most 256 MiB")
    engine = str(find_valkey(binary))
    per_key, maxmemory = _bytes_per_key(size, cap, binary)
    trace = _trace(k, s, n, seed)
    skip = int(share * n)
    p = zipf_popularities(k, s)
    runs, config = {}, ""
    for policy in chosen:
        with ValkeyServer(maxmemory_bytes=maxmemory, policy=policy, binary=binary) as server:
            ttl = _TTL_S if policy.startswith("volatile") else 0
            begin = time.monotonic()
            hits, held = _replay(server, trace, size, ttl, skip)
            took = time.monotonic() - begin
            evicted = int(server.info("stats").get("evicted_keys", 0))
            config, started = server.config_text, server.startup_s
        c = max(1, int(round(held)))
        model = float(_model_hits(trace, c, policy, seed)[skip:].mean())
        spread = [float(_model_hits(_trace(k, s, n, seed + 1000 + r if seed is not None
                                           else None), c, policy, r)[skip:].mean())
                  for r in range(runs_n)]
        sd = float(np.std(spread, ddof=1))
        engine_ratio = float(hits[skip:].mean())
        runs[policy] = PolicyOnValkey(
            policy=policy, engine_hit_ratio=engine_ratio, model_hit_ratio=model, model_sd=sd,
            gap_sd=abs(engine_ratio - model) / max(sd, 1e-6),
            che_lru=che_lru_hit_ratio(p, c), che_random=che_random_hit_ratio(p, c),
            lfu_top=lfu_hit_ratio(p, c), held_keys=held, evicted=evicted, replay_s=took,
            startup_s=started)
    return EvictionComparison(engine=engine, keys=k, skew=s, requests=n, warmup=share,
                              capacity=cap, value_bytes=size, bytes_per_key=per_key,
                              maxmemory_bytes=maxmemory, seed=seed, model_runs=runs_n,
                              runs=runs, config_text=config)
