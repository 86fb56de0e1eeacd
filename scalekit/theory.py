"""Closed forms from queueing theory: what the simulations are checked against.

Units: rates in requests per second, times in seconds. Every function checks its arguments and
refuses an unstable system (offered load >= capacity) with a ValueError, because a steady-state
formula has no answer there — the queue grows without bound.

Sources: Kleinrock, *Queueing Systems* vol. 1 (M/M/1, M/M/c, M/M/1/K, M/G/1
Pollaczek–Khinchine); Reiser & Lavenberg 1980 (mean value analysis of closed networks);
Gunther, *Guerrilla Capacity Planning* (Universal Scalability Law); Mitzenmacher 2001
(supermarket model); Gonnet 1981 and Azar, Broder, Karlin & Upfal 1999 (balls into bins).
"""

from __future__ import annotations

import math
import sys

from scalekit import _check

__all__ = [
    "mm1_sojourn_s",
    "mm1_wait_s",
    "mm1_quantile_s",
    "erlang_c",
    "mmc_wait_s",
    "mmc_sojourn_s",
    "mg1_sojourn_s",
    "mm1k_blocking",
    "mva_closed",
    "usl_capacity",
    "usl_peak",
    "supermarket_sojourn_s",
    "supermarket_tail",
    "round_robin_sojourn_s",
    "balls_max_load",
    "MAX_SERVERS",
    "MAX_USERS",
    "MAX_QUEUE_CAPACITY",
]

#: Upper bounds on the counts the recursions loop over (one pass per server or per user), so
#: a mistyped 10**9 is refused at once instead of running for minutes.
MAX_SERVERS = 100_000
MAX_USERS = 100_000
#: Largest M/M/1/K capacity: K must be exactly representable as a float (K < 2**53).
MAX_QUEUE_CAPACITY = 10**15


def _stable(arrival_rate: float, capacity: float, what: str) -> None:
    if arrival_rate >= capacity:
        raise ValueError(
            f"unstable: arrival_rate {arrival_rate:g}/s >= {what} {capacity:g}/s; "
            "the queue grows without bound, so there is no steady-state answer"
        )


def _finite(seconds: float, *names: str) -> float:
    """``seconds`` if it is a float; else (it overflowed to ∞ from finite arguments, e.g. a
    rate of 1e-310/s) a ValueError naming the arguments that made it."""
    if math.isfinite(seconds):
        return seconds
    raise ValueError(f"the answer overflows a float (more than {sys.float_info.max:.3g} s): "
                     f"{' and '.join(names)} are too extreme; measure in other units")


def mm1_sojourn_s(arrival_rate: float, service_rate: float) -> float:
    """Mean time in system of an M/M/1 queue, W = 1/(μ − λ)."""
    lam = _check.positive("arrival_rate", arrival_rate)
    mu = _check.positive("service_rate", service_rate)
    _stable(lam, mu, "service_rate")
    return _finite(1.0 / (mu - lam), "arrival_rate", "service_rate")


def mm1_wait_s(arrival_rate: float, service_rate: float) -> float:
    """Mean time waiting in queue of an M/M/1 queue, Wq = ρ/(μ − λ)."""
    w = mm1_sojourn_s(arrival_rate, service_rate)
    return (arrival_rate / service_rate) * w  # ρ < 1 times a finite W: finite


def mm1_quantile_s(arrival_rate: float, service_rate: float, q: float) -> float:
    """The q-quantile of M/M/1 time in system: it is exponential with rate μ − λ."""
    w = mm1_sojourn_s(arrival_rate, service_rate)
    q = _check.number("q", q, low=0.0, high=1.0, high_open=True)
    return _finite(-math.log1p(-q) * w, "arrival_rate", "service_rate", "q")


def erlang_c(servers: int, offered_erlangs: float) -> float:
    """Probability that an arriving request waits in an M/M/c queue (Erlang C).

    ``offered_erlangs`` is a = λ/μ; it must be below ``servers``. Computed through the
    numerically stable Erlang B recursion, B(k) = a·B(k−1)/(k + a·B(k−1)), one step per
    server: at most ``MAX_SERVERS`` servers.
    """
    c = _check.integer("servers", servers, low=1, high=MAX_SERVERS)
    a = _check.positive("offered_erlangs", offered_erlangs)
    if a >= c:
        raise ValueError(f"unstable: offered_erlangs {a:g} >= servers {c}; the queue grows "
                         "without bound, so there is no steady-state answer")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def mmc_wait_s(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean wait in queue of M/M/c: Wq = C(c, a)/(cμ − λ); at most ``MAX_SERVERS`` servers."""
    lam = _check.positive("arrival_rate", arrival_rate)
    mu = _check.positive("service_rate", service_rate)
    c = _check.integer("servers", servers, low=1, high=MAX_SERVERS)
    _stable(lam, c * mu, "capacity servers*service_rate")
    return _finite(erlang_c(c, lam / mu) / (c * mu - lam), "arrival_rate", "service_rate")


def mmc_sojourn_s(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean time in system of M/M/c with one shared FIFO queue: W = Wq + 1/μ."""
    return _finite(mmc_wait_s(arrival_rate, service_rate, servers) + 1.0 / service_rate,
                   "arrival_rate", "service_rate")


def mg1_sojourn_s(arrival_rate: float, mean_service_s: float, scv: float) -> float:
    """Mean time in system of M/G/1 (Pollaczek–Khinchine).

    ``scv`` is the squared coefficient of variation of the service time, Var[S]/E[S]²
    (1 for exponential, 0 for deterministic). Wq = ρ·E[S]·(1 + scv) / (2(1 − ρ)).
    """
    lam = _check.positive("arrival_rate", arrival_rate)
    s = _check.positive("mean_service_s", mean_service_s)
    scv = _check.non_negative("scv", scv)
    _stable(lam, 1.0 / s, "service_rate 1/mean_service_s")
    rho = lam * s
    return _finite(rho * s * (1.0 + scv) / (2.0 * (1.0 - rho)) + s, "mean_service_s", "scv")


def mm1k_blocking(arrival_rate: float, service_rate: float, capacity: int) -> float:
    """Fraction of arrivals dropped by an M/M/1/K queue holding at most K requests.

    P_K = (1 − ρ)ρ^K / (1 − ρ^(K+1)), or 1/(K+1) when ρ = 1. Finite K is always stable.
    For ρ > 1 the same value is computed as (1 − r)/(1 − r^(K+1)) with r = 1/ρ (numerator
    and denominator divided by ρ^(K+1)), so ρ^K never overflows; as K grows it tends to
    1 − 1/ρ, the excess an overloaded server must turn away. ``capacity`` is K in requests,
    at most ``MAX_QUEUE_CAPACITY``.
    """
    lam = _check.positive("arrival_rate", arrival_rate)
    mu = _check.positive("service_rate", service_rate)
    k = _check.integer("capacity", capacity, low=1, high=MAX_QUEUE_CAPACITY)
    rho = lam / mu
    if rho == 1.0:
        return 1.0 / (k + 1)
    if rho == 0.0:  # λ/μ underflowed: nothing is ever dropped
        return 0.0
    if rho > 1.0:
        r = 1.0 / rho
        if r == 0.0:  # λ/μ overflowed: every arrival is dropped
            return 1.0
        # (1 − r)/(1 − r^(K+1)); expm1 keeps the denominator exact when r is close to 1.
        return (1.0 - r) / -math.expm1((k + 1) * math.log(r))
    log_rho = math.log(rho)
    return (1.0 - rho) * math.exp(k * log_rho) / -math.expm1((k + 1) * log_rho)


def mva_closed(
    users: int, service_demand_s: float, think_time_s: float = 0.0
) -> tuple[float, float]:
    """Exact mean value analysis of a closed loop: ``users`` clients, one FIFO server.

    Each client sends a request, waits for the answer, thinks for ``think_time_s`` (a delay
    that includes the network and the client's own work) and sends the next. Returns
    (throughput in requests/s, mean response time in s) for N = ``users``:
    R(n) = D·(1 + Q(n−1)), X(n) = n/(R(n) + Z), Q(n) = X(n)·R(n) — one step per user, so
    at most ``MAX_USERS`` users.
    """
    n = _check.integer("users", users, low=1, high=MAX_USERS)
    d = _check.positive("service_demand_s", service_demand_s)
    z = _check.non_negative("think_time_s", think_time_s)
    q = 0.0
    x = r = 0.0
    for k in range(1, n + 1):
        r = d * (1.0 + q)
        x = k / (r + z)
        q = x * r
    return x, r


def usl_capacity(n: float, sigma: float, kappa: float) -> float:
    """Relative capacity C(N) = N / (1 + σ(N − 1) + κN(N − 1)) — Gunther's USL.

    σ (contention, 0..1) caps the speed-up like Amdahl's serial fraction; κ (coherency, >= 0)
    makes capacity fall after a peak, because every node must agree with every other.
    """
    n = _check.number("n", n, low=1.0)
    sigma = _check.probability("sigma", sigma)
    kappa = _check.non_negative("kappa", kappa)
    return n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


def usl_peak(sigma: float, kappa: float) -> float:
    """The N at which USL capacity peaks, N* = max(1, sqrt((1 − σ)/κ)); infinite when κ = 0.

    The law starts at N = 1 (C(1) = 1), so when sqrt((1 − σ)/κ) < 1 — contention and
    coherency so high that a second node already loses capacity — the peak is one node,
    and the result is always a valid ``n`` for :func:`usl_capacity`.
    """
    sigma = _check.probability("sigma", sigma)
    kappa = _check.non_negative("kappa", kappa)
    if kappa == 0.0:
        return math.inf
    return max(1.0, math.sqrt((1.0 - sigma) / kappa))


# --------------------------------------------------------------------------- balancing


def _load(load: float) -> float:
    rho = _check.number("load", load, low=0.0, low_open=True)
    if rho >= 1.0:
        raise ValueError(f"unstable: load {rho:g} >= 1; the queues grow without bound, so "
                         "there is no steady-state answer")
    return rho


def supermarket_tail(load: float, choices: int, jobs: int) -> float:
    """Supermarket model: the fraction of servers holding at least ``jobs`` requests.

    n → ∞ servers, Poisson arrivals at ``load`` (λ < 1) per server, exponential service of
    rate 1, each request joins the shortest of ``choices`` (d) servers drawn at random:
    s_i = λ^((dⁱ − 1)/(d − 1)) — doubly exponential in i for d ≥ 2, against λⁱ for d = 1
    (Mitzenmacher, IEEE TPDS 12(10), 2001, Theorem 3.6).
    """
    lam = _load(load)
    d = _check.integer("choices", choices, low=1, high=64)
    i = _check.integer("jobs", jobs, low=0, high=10_000)
    exponent = i if d == 1 else (d**i - 1) / (d - 1) if i < 64 else math.inf
    return lam**exponent


def supermarket_sojourn_s(load: float, choices: int = 2, mean_service_s: float = 1.0) -> float:
    """Supermarket model: mean time in system when each request joins the shortest of
    ``choices`` random servers, in the limit of many servers.

    T_d(λ) = Σ_{i≥1} λ^((dⁱ − d)/(d − 1)) service times (Mitzenmacher 2001); d = 1 is
    random dispatch, 1/(1 − λ) (one M/M/1 queue per server). A finite cluster sits slightly
    above the limit: its queues are not independent, and the gap shrinks as 1/n.
    """
    lam = _load(load)
    d = _check.integer("choices", choices, low=1, high=64)
    s = _check.positive("mean_service_s", mean_service_s)
    if d == 1:
        return _finite(s / (1.0 - lam), "mean_service_s", "load")
    total, i = 0.0, 1
    while i < 64:
        exponent = (d**i - d) / (d - 1)
        term = lam**exponent
        total += term
        if term < 1e-17:
            break
        i += 1
    return _finite(total * s, "mean_service_s", "load")


def round_robin_sojourn_s(load: float, servers: int, mean_service_s: float = 1.0) -> float:
    """Mean time in system under round robin: Poisson arrivals dealt in turn to ``servers``
    identical exponential servers, each at ``load``.

    Each server receives every n-th arrival, so its arrivals are Erlang-n spaced — far more
    regular than Poisson — and each server is an E_n/M/1 queue. A GI/M/1 queue has mean
    sojourn 1/(μ(1 − σ)), σ the root in (0, 1) of σ = A*(μ(1 − σ)), A* the Laplace transform
    of the gap between arrivals (Kleinrock vol. 1, §6.4); for Erlang-n gaps of total rate
    nλ, A*(s) = (nλ/(nλ + s))ⁿ. One server (n = 1) gives M/M/1: σ = λ/μ.
    """
    rho = _load(load)
    n = _check.integer("servers", servers, low=1, high=MAX_SERVERS)
    s = _check.positive("mean_service_s", mean_service_s)
    # Work in units of the mean service time (μ = 1). g(σ) = A*(1 − σ) − σ is positive on
    # [0, σ*), negative on (σ*, 1) and zero at 1; bisection finds σ* to the last bit whatever
    # the load (a fixed-point iteration converges at rate ρ: hopeless as ρ → 1).
    def g(sigma: float) -> float:
        return (n * rho / (n * rho + 1.0 - sigma)) ** n - sigma

    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if g(mid) > 0:
            lo = mid
        else:
            hi = mid
    sigma = (lo + hi) / 2
    return _finite(s / (1.0 - sigma), "mean_service_s", "load")


def balls_max_load(bins: int, choices: int = 1) -> float:
    """The textbook estimate of the fullest bin when ``bins`` balls are thrown into ``bins``
    bins, each into the least full of ``choices`` random bins.

    One choice: Gonnet (1981), Γ⁻¹(n) − 3/2, the leading terms of the expected maximum
    (≈ ln n / ln ln n). Two or more: Azar, Broder, Karlin & Upfal (1999),
    ln ln n / ln d + Θ(1) — the Θ(1) is left out, so it is a lower estimate.
    """
    n = _check.integer("bins", bins, low=3, high=10**12)
    d = _check.integer("choices", choices, low=1, high=64)
    if d >= 2:
        return math.log(math.log(n)) / math.log(d)
    # Γ⁻¹(n): the x > 2 with lgamma(x) = ln n, by bisection (lgamma increases there).
    lo, hi, target = 2.0, 200.0, math.log(n)
    for _ in range(200):
        mid = (lo + hi) / 2
        if math.lgamma(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2 - 1.5
