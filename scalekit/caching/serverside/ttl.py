"""The TTL trade-off of a cache-aside cache: database load against staleness.

A TTL bounds how stale a copy can get but costs database reads.
For one key read at Poisson rate λ and written at Poisson rate μ, with no invalidation and
TTL T: a miss fills the copy, which lives exactly T; the next read after that misses.
By memorylessness a cycle lasts T + 1/λ on average, so the database sees
1 / (T + 1/λ) reads per second. A cycle holds 1 + λT reads (the filling read, fresh, and
λT hits spread uniformly over the copy's life). A hit at age a is stale when a write fell
in (0, a]: probability 1 − e^{−μa}; averaged over a uniform on [0, T] that is
s(μT) = 1 − (1 − e^{−μT}) / (μT) — the stale share of hits. Of all reads the stale share
is λT·s(μT) / (1 + λT). A stale hit at age a is behind by a − τ (τ the first write), so
the staleness summed over a cycle is λ/μ² · (x²/2 − x + 1 − e^{−x}), x = μT. With many
keys each key gets λ_i = λp_i, μ_i = μp_i and the totals add.

No invalidation on write here: the TTL is the only bound on staleness. Units: seconds,
rates per second.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html
from scalekit.caching.serverside.aside import zipf_popularities
from scalekit.caching.serverside.common import checked_progress, frozen

__all__ = ["TtlTradeoff", "ttl_single_key", "ttl_tradeoff", "MAX_EVENTS"]

MAX_EVENTS = 5_000_000  # reads + writes per TTL in one ttl_tradeoff


def _stale_hit_share(x: np.ndarray) -> np.ndarray:
    """s(x) = 1 − (1 − e^{−x})/x, written to keep its accuracy for small x."""
    x = np.asarray(x, dtype=float)
    small = x < 1e-4
    safe = np.where(small, 1.0, x)
    return np.where(small, x / 2 - x * x / 6, 1 + np.expm1(-safe) / safe)


def _lag_integral(x: np.ndarray) -> np.ndarray:
    """x²/2 − x + 1 − e^{−x} (= x³/6 − x⁴/24 + … for small x)."""
    x = np.asarray(x, dtype=float)
    series = x ** 3 / 6 - x ** 4 / 24 + x ** 5 / 120
    return np.where(x < 1e-3, series, x * x / 2 - x - np.expm1(-x))


def ttl_single_key(ttl_s: float, read_rate: float, write_rate: float) -> dict:
    """The closed forms for one key (see the module): ``db_reads_per_s`` = 1/(T + 1/λ),
    ``stale_hit_share`` = s(μT), ``stale_share`` = λT·s(μT)/(1 + λT), and
    ``mean_staleness_s`` of a stale read."""
    # bounded so that every closed form stays finite (1e-300 reads/s gave NaN, not an error)
    t = _check.number("ttl_s", ttl_s, low=1e-6, high=1e7)
    lam = _check.number("read_rate", read_rate, low=1e-9, high=1e9)
    mu = _check.number("write_rate", write_rate, low=0.0, high=1e9)
    return {k: float(v[0]) for k, v in _ttl_theory(t, np.array([lam]), np.array([mu])).items()}


def _ttl_theory(t: float, lam: np.ndarray, mu: np.ndarray) -> dict:
    cycle = t + 1.0 / lam
    hit_share = _stale_hit_share(mu * t)
    stale_per_s = lam * t * hit_share / cycle
    safe_mu = np.where(mu > 0, mu, 1.0)
    lag_per_s = np.where(mu > 0, lam / safe_mu ** 2 * _lag_integral(mu * t), 0.0) / cycle
    reads, stale = lam.sum(), stale_per_s.sum()
    return {"db_reads_per_s": np.atleast_1d((1.0 / cycle).sum()),
            "stale_hit_share": np.atleast_1d(stale / (reads - (1.0 / cycle).sum())),
            "stale_share": np.atleast_1d(stale / reads),
            "mean_staleness_s": np.atleast_1d(lag_per_s.sum() / stale if stale > 0 else 0.0)}


# --------------------------------------------------------------------------- TTL trade-off


@dataclass(frozen=True, eq=False, repr=False)
class TtlTradeoff(_html.ScalarTable):
    """Per TTL in ``ttls_s``: database reads per second, the stale share of all reads and
    of hits, the mean staleness of a stale read (s, how long ago the copy went out of date)
    and the hit ratio — simulated, and the ``theory_*`` closed forms (see the module).
    ``reads`` and ``writes`` are the counts in the simulated ``duration_s``."""

    keys: int
    skew: float
    read_rate: float
    write_rate: float
    duration_s: float
    reads: int
    writes: int
    seed: int | None
    ttls_s: np.ndarray = field(repr=False)
    db_reads_per_s: np.ndarray = field(repr=False)
    stale_share: np.ndarray = field(repr=False)
    stale_hit_share: np.ndarray = field(repr=False)
    mean_staleness_s: np.ndarray = field(repr=False)
    hit_ratio: np.ndarray = field(repr=False)
    theory_db_reads_per_s: np.ndarray = field(repr=False)
    theory_stale_share: np.ndarray = field(repr=False)
    theory_stale_hit_share: np.ndarray = field(repr=False)
    theory_mean_staleness_s: np.ndarray = field(repr=False)


def ttl_tradeoff(ttls_s: Sequence[float], *, read_rate: float = 1000.0,
                 write_rate: float = 10.0, keys: int = 1000, skew: float = 1.0,
                 duration_s: float = 60.0, seed: int | None = 0,
                 progress: Callable[[int, int], object] | None = None) -> TtlTradeoff:
    """Simulate reads (Poisson, ``read_rate`` per s) and writes (Poisson, ``write_rate``
    per s) of ``keys`` keys of Zipf(``skew``) popularity for ``duration_s`` simulated
    seconds, once per TTL, with the same event stream for every TTL and no invalidation on
    write. Each run starts in the steady state (each key's copy present, aged and stale
    with the stationary probabilities), so there is no cold-start bias. A miss fills the
    copy at once; a hit on a copy written since its fill is stale.
    ``progress(done, total)`` after each TTL."""
    ttls = _check.array("ttls_s", ttls_s, low=0.0, low_open=True, min_len=1)
    lam = _check.positive("read_rate", read_rate)
    mu = _check.non_negative("write_rate", write_rate)
    k = _check.integer("keys", keys, low=1, high=10_000_000)
    s = _check.non_negative("skew", skew)
    dur = _check.positive("duration_s", duration_s)
    seed = _check.seed(seed)
    progress = checked_progress(progress)
    if (lam + mu) * dur > MAX_EVENTS:
        raise ValueError(f"(read_rate + write_rate) × duration_s = {(lam + mu) * dur:,.0f} "
                         f"events is over {MAX_EVENTS:,}: shorten duration_s")
    rng = np.random.default_rng(seed)
    p = zipf_popularities(k, s)
    n_r, n_w = rng.poisson(lam * dur), rng.poisson(mu * dur)
    times = np.concatenate([rng.uniform(0, dur, n_r), rng.uniform(0, dur, n_w)])
    key = np.concatenate([rng.choice(k, size=n_r, p=p), rng.choice(k, size=n_w, p=p)])
    is_write = np.concatenate([np.zeros(n_r, bool), np.ones(n_w, bool)])
    order = np.argsort(times, kind="stable")
    events = list(zip(times[order].tolist(), key[order].tolist(), is_write[order].tolist(),
                      strict=True))
    rows = []
    for i, t in enumerate(ttls.tolist()):
        expires, stale_since = _steady_state(rng, t, lam * p, mu * p)
        rows.append(_ttl_run(events, expires, stale_since, t, n_r))
        if progress is not None:
            progress(i + 1, ttls.size)
    sim = np.array(rows, dtype=float).reshape(len(rows), 4)
    theory = [_ttl_theory(t, lam * p, mu * p) for t in ttls.tolist()]
    col = {name: frozen(np.array([th[name][0] for th in theory])) for name in theory[0]}
    misses, stale, lag = sim[:, 0], sim[:, 1], sim[:, 2]
    hits = n_r - misses
    return TtlTradeoff(
        keys=k, skew=s, read_rate=lam, write_rate=mu, duration_s=dur, reads=n_r, writes=n_w,
        seed=seed, ttls_s=frozen(ttls), db_reads_per_s=frozen(misses / dur),
        stale_share=frozen(stale / max(n_r, 1)),
        stale_hit_share=frozen(np.divide(stale, hits, out=np.zeros_like(stale),
                                          where=hits > 0)),
        mean_staleness_s=frozen(np.divide(lag, stale, out=np.zeros_like(lag),
                                           where=stale > 0)),
        hit_ratio=frozen(hits / max(n_r, 1)),
        theory_db_reads_per_s=col["db_reads_per_s"], theory_stale_share=col["stale_share"],
        theory_stale_hit_share=col["stale_hit_share"],
        theory_mean_staleness_s=col["mean_staleness_s"])


def _steady_state(rng: np.random.Generator, ttl: float, lam: np.ndarray,
                  mu: np.ndarray) -> tuple[list, list]:
    """Each key's cache state at t = 0 drawn from the stationary law, so nothing is biased
    by a cold start: a copy is held with probability λT/(1 + λT), its age A uniform on
    [0, T]; it is stale since −A + τ if the first write after its fill, τ ~ Exp(μ), came
    before now. Returns (expiry instants, stale-since instants), ±inf for none."""
    n = lam.size
    held = rng.random(n) < lam * ttl / (1 + lam * ttl)
    age = rng.uniform(0.0, ttl, n)
    first = rng.exponential(1.0, n) / np.where(mu > 0, mu, 1.0)
    first = np.where(mu > 0, first, np.inf)
    expires = np.where(held, ttl - age, -np.inf)
    stale_since = np.where(held & (first < age), first - age, np.inf)
    return expires.tolist(), stale_since.tolist()


def _ttl_run(events: list, expires: list, stale_since: list, ttl: float,
             reads: int) -> tuple:
    """One TTL over the event stream: (misses, stale reads, summed staleness, reads).
    ``expires``: when each key's copy expires (−inf: none); ``stale_since``: the first
    write after its fill (inf: none)."""
    misses = stale = 0
    lag = 0.0
    for t, k, write in events:
        if write:
            if stale_since[k] == math.inf:
                stale_since[k] = t
        elif expires[k] <= t:
            misses += 1
            expires[k] = t + ttl
            stale_since[k] = math.inf
        elif stale_since[k] <= t:
            stale += 1
            lag += t - stale_since[k]
    return misses, stale, lag, reads
