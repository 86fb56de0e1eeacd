"""Closed forms against published values and against each other.

Sources: Kleinrock, Queueing Systems vol. 1 (1975) §3.2 and §3.5 (M/M/1, Erlang C: the
examples c=4, ρ=0.8 → Wq 0.746 and c=16, ρ=0.9 → Wq 0.370 are the formula's values, μ = 1),
Harchol-Balter, Performance Modeling and Design of Computer Systems (2013) ch. 14 (one fast
server against k slow ones), Gunther's Guerrilla Capacity Planning (USL), Reiser & Lavenberg
1980 (MVA).
"""

import math
from fractions import Fraction

import pytest

from scalekit import theory


def test_mm1():
    assert theory.mm1_sojourn_s(0.8, 1.0) == pytest.approx(5.0)
    assert theory.mm1_wait_s(0.8, 1.0) == pytest.approx(4.0)  # ρ/(μ − λ)
    assert theory.mm1_quantile_s(0.8, 1.0, 0.5) == pytest.approx(5.0 * math.log(2))


def test_erlang_c_examples_and_limits():
    # Erlang C (Kleinrock §3.5): c=4, ρ=0.8 → Wq 0.746; c=16, ρ=0.9 → Wq 0.370 (μ = 1)
    assert theory.mmc_wait_s(3.2, 1.0, 4) == pytest.approx(0.746, abs=5e-4)
    assert theory.mmc_wait_s(14.4, 1.0, 16) == pytest.approx(0.370, abs=5e-4)
    # one server: Erlang C is ρ, and M/M/c reduces to M/M/1
    assert theory.erlang_c(1, 0.6) == pytest.approx(0.6)
    assert theory.mmc_sojourn_s(0.6, 1.0, 1) == pytest.approx(theory.mm1_sojourn_s(0.6, 1.0))


def test_explicit_erlang_c_formula_agrees_with_the_recursion():
    a, c = 6.3, 8
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    explicit = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    assert theory.erlang_c(c, a) == pytest.approx(explicit, rel=1e-12)


def test_one_fast_server_vs_four_slow_ones():
    # Harchol-Balter ch. 14: c=4, ρ=0.8 — one 4× server W=1.25, M/M/4 W=1.746,
    # four random M/M/1 W=5.0
    assert theory.mm1_sojourn_s(3.2, 4.0) == pytest.approx(1.25)
    assert theory.mmc_sojourn_s(3.2, 1.0, 4) == pytest.approx(1.746, abs=5e-4)
    assert theory.mm1_sojourn_s(0.8, 1.0) == pytest.approx(5.0)


def test_pollaczek_khinchine_reduces_to_mm1_and_halves_the_wait_for_md1():
    assert theory.mg1_sojourn_s(0.7, 1.0, 1.0) == pytest.approx(theory.mm1_sojourn_s(0.7, 1.0))
    md1_wait = theory.mg1_sojourn_s(0.7, 1.0, 0.0) - 1.0
    assert md1_wait == pytest.approx(theory.mm1_wait_s(0.7, 1.0) / 2)


def test_mm1k_blocking():
    assert theory.mm1k_blocking(1.0, 1.0, 4) == pytest.approx(1 / 5)
    # as K grows the stable queue stops dropping
    assert theory.mm1k_blocking(0.5, 1.0, 40) < 1e-12
    # overloaded: at least 1 − 1/ρ of arrivals must be dropped
    assert theory.mm1k_blocking(2.0, 1.0, 10) >= 0.5


def _mm1k_exact(rho: Fraction, k: int) -> float:
    """The textbook formula in exact rational arithmetic: no overflow, no rounding."""
    return float((1 - rho) * rho**k / (1 - rho ** (k + 1)))


@pytest.mark.parametrize("lam,mu,k", [
    (1, 2, 5), (3, 4, 30), (999, 1000, 7), (1001, 1000, 7), (3, 2, 50), (2, 1, 10),
    (7, 1, 100), (100, 1, 200), (2, 1, 2000), (1, 3, 1000),
])
def test_mm1k_blocking_matches_the_exact_formula_without_overflow(lam, mu, k):
    # (100, 1, 200) and (2, 1, 2000) used to raise OverflowError computing ρ^K
    got = theory.mm1k_blocking(float(lam), float(mu), k)
    assert got == pytest.approx(_mm1k_exact(Fraction(lam, mu), k), rel=1e-12, abs=1e-300)


def test_mm1k_blocking_overloaded_tends_to_the_excess_load():
    # K → ∞ with ρ > 1: the server takes μ of the λ offered and drops the rest, 1 − 1/ρ
    assert theory.mm1k_blocking(2.0, 1.0, 2000) == pytest.approx(0.5, rel=1e-12)
    assert theory.mm1k_blocking(100.0, 1.0, 200) == pytest.approx(0.99, rel=1e-12)
    assert theory.mm1k_blocking(1.5, 1.0, 10**12) == pytest.approx(1 / 3, rel=1e-12)
    assert theory.mm1k_blocking(1e300, 1e-300, 3) == 1.0  # λ/μ overflows: all dropped
    assert theory.mm1k_blocking(1e-300, 1e300, 3) == 0.0  # λ/μ underflows: none dropped


def test_mm1k_blocking_is_continuous_through_rho_one():
    k = 9
    for rho in (1 - 1e-9, 1 + 1e-9, 1 - 1e-14, 1 + 1e-14):
        assert theory.mm1k_blocking(rho, 1.0, k) == pytest.approx(1 / (k + 1), rel=1e-6)
    # just above 1 with a huge K the limit 1 − 1/ρ wins over 1/(K + 1)
    assert theory.mm1k_blocking(1 + 1e-6, 1.0, 10**9) == pytest.approx(1e-6, rel=1e-3)


def test_mva_matches_the_asymptotic_bounds():
    d, z = 0.002, 0.0005
    x1, r1 = theory.mva_closed(1, d, z)
    assert r1 == pytest.approx(d) and x1 == pytest.approx(1 / (d + z))
    x, r = theory.mva_closed(64, d, z)
    assert x == pytest.approx(1 / d, rel=1e-6)  # saturated: throughput is 1/D
    assert r == pytest.approx(64 * d - z, rel=1e-3)  # and latency grows as N·D − Z
    for n in range(1, 30):
        x, _ = theory.mva_closed(n, d, z)
        assert x <= min(n / (d + z), 1 / d) + 1e-9


def test_usl():
    assert theory.usl_capacity(1, 0.1, 0.01) == 1.0
    assert theory.usl_capacity(10, 0.0, 0.0) == 10.0
    # Amdahl (κ = 0) approaches 1/σ
    assert theory.usl_capacity(1e6, 0.05, 0.0) == pytest.approx(20.0, rel=1e-3)
    peak = theory.usl_peak(0.05, 0.001)
    assert peak == pytest.approx(math.sqrt(0.95 / 0.001))
    assert theory.usl_capacity(peak, 0.05, 0.001) > theory.usl_capacity(peak * 1.5, 0.05, 0.001)
    assert theory.usl_peak(0.05, 0.0) == math.inf


@pytest.mark.parametrize("sigma,kappa", [(1.0, 0.1), (0.5, 1.0), (0.9, 0.5)])
def test_usl_peak_is_never_below_one_node(sigma, kappa):
    # sqrt((1 − σ)/κ) < 1 here: a second node already loses capacity, so the peak is N = 1
    peak = theory.usl_peak(sigma, kappa)
    assert peak == 1.0
    assert theory.usl_capacity(peak, sigma, kappa) == 1.0  # a valid n for the law
    assert theory.usl_capacity(2, sigma, kappa) <= 1.0


@pytest.mark.parametrize("call,name", [
    (lambda: theory.mva_closed(10**9, 0.001), "users"),
    (lambda: theory.erlang_c(10**9, 1.0), "servers"),
    (lambda: theory.mmc_wait_s(1.0, 1.0, 10**9), "servers"),
    (lambda: theory.mmc_sojourn_s(1.0, 1.0, theory.MAX_SERVERS + 1), "servers"),
    (lambda: theory.mm1k_blocking(1.0, 2.0, 10**400), "capacity"),
])
def test_counts_that_would_loop_for_minutes_are_refused(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_the_largest_allowed_counts_still_answer():
    x, r = theory.mva_closed(theory.MAX_USERS, 0.001, 0.5)
    assert x == pytest.approx(1000.0) and r == pytest.approx(theory.MAX_USERS * 0.001 - 0.5)
    c = theory.MAX_SERVERS
    assert 0.0 < theory.erlang_c(c, 0.999 * c) < 1.0
    assert theory.mmc_wait_s(1.0, 1.0, c) < 1e-300  # a = 1 over 10^5 servers: nobody waits


@pytest.mark.parametrize("call,name", [
    (lambda: theory.mm1_sojourn_s(1.0, 1.0), "unstable"),
    (lambda: theory.mm1_sojourn_s(0.0, 1.0), "arrival_rate"),
    (lambda: theory.mmc_sojourn_s(4.0, 1.0, 4), "unstable"),
    (lambda: theory.mmc_sojourn_s(1.0, 1.0, 0), "servers"),
    (lambda: theory.erlang_c(2, -1.0), "offered_erlangs"),
    (lambda: theory.mg1_sojourn_s(0.5, 1.0, -1.0), "scv"),
    (lambda: theory.mm1k_blocking(0.5, 1.0, 0), "capacity"),
    (lambda: theory.mva_closed(0, 1.0), "users"),
    (lambda: theory.usl_capacity(0.5, 0.1, 0.0), "n"),
    (lambda: theory.usl_peak(1.5, 0.1), "sigma"),
    (lambda: theory.mm1_quantile_s(0.5, 1.0, 1.0), "q"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_wrong_types():
    with pytest.raises(TypeError, match="servers"):
        theory.erlang_c(2.0, 1.0)
    with pytest.raises(TypeError, match="arrival_rate"):
        theory.mm1_sojourn_s("0.5", 1.0)


# ------------------------------------------------------------------ balancing


@pytest.mark.parametrize("d", [2, 3, 5])
@pytest.mark.parametrize("lam", [0.3, 0.9, 0.99])
def test_supermarket_sojourn_is_littles_law_over_the_tails(d, lam):
    """Mean requests per server = Σ_{i≥1} s_i (the tail fractions); Little: T = that / λ.
    Two routes to one number: the closed series and the tails summed here."""
    queue = sum(theory.supermarket_tail(lam, d, i) for i in range(1, 60))
    assert theory.supermarket_sojourn_s(lam, d) == pytest.approx(queue / lam, rel=1e-12)


def test_supermarket_limits():
    """d = 1 is random dispatch: 1/(1 − λ); more choices never hurt; the tails fall doubly
    exponentially (s_i = λ^(2^i − 1) for d = 2) against λ^i for one choice."""
    assert theory.supermarket_sojourn_s(0.9, 1) == pytest.approx(10.0)
    t = [theory.supermarket_sojourn_s(0.95, d) for d in (1, 2, 3, 4)]
    assert t == sorted(t, reverse=True) and t[1] < t[0] / 5
    assert theory.supermarket_tail(0.9, 2, 3) == pytest.approx(0.9**7)
    assert theory.supermarket_tail(0.9, 1, 3) == pytest.approx(0.9**3)
    assert theory.supermarket_tail(0.9, 2, 0) == 1.0
    assert theory.supermarket_sojourn_s(0.5, 2, mean_service_s=0.01) == pytest.approx(
        0.01 * theory.supermarket_sojourn_s(0.5, 2))


def test_round_robin_limits():
    """One server: M/M/1. Many servers: the arrivals at each become evenly spaced — D/M/1,
    whose σ solves σ = exp(−(1 − σ)/ρ) (solved here by bisection, independently)."""
    assert theory.round_robin_sojourn_s(0.7, 1) == pytest.approx(theory.mm1_sojourn_s(0.7, 1))
    rho = 0.8
    lo, hi = 0.0, 0.999999
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid - math.exp(-(1 - mid) / rho) < 0:
            lo = mid
        else:
            hi = mid
    dm1 = 1 / (1 - lo)
    assert theory.round_robin_sojourn_s(rho, 20_000) == pytest.approx(dm1, rel=1e-3)
    w = [theory.round_robin_sojourn_s(rho, n) for n in (1, 2, 4, 16, 256)]
    assert w == sorted(w, reverse=True)  # more servers in turn: more regular arrivals


@pytest.mark.parametrize("rho", [0.9, 0.999, 0.99999])
def test_round_robin_stays_exact_near_saturation(rho):
    """One server is M/M/1 at any load, however close to 1 (a fixed-point iteration, which
    converges at rate ρ, reads 37% low at 0.99999); two servers in turn is E_2/M/1, whose σ
    solves the cubic σ(2ρ + 1 − σ)² = 4ρ² — checked by putting the answer back in."""
    assert theory.round_robin_sojourn_s(rho, 1) == pytest.approx(1 / (1 - rho), rel=1e-6)
    sigma = 1 - 1 / theory.round_robin_sojourn_s(rho, 2)
    assert sigma * (2 * rho + 1 - sigma) ** 2 == pytest.approx(4 * rho**2, rel=1e-9)
    assert 0 < sigma < 1


def test_balls_max_load_estimates():
    """Gonnet: Γ⁻¹(n) − 3/2; Γ(10) = 362,880, so n = 362,880 gives exactly 8.5."""
    assert theory.balls_max_load(362_880, 1) == pytest.approx(8.5, abs=1e-9)
    n = 10**6
    assert theory.balls_max_load(n, 2) == pytest.approx(math.log(math.log(n)) / math.log(2))


@pytest.mark.parametrize("call, name", [
    (lambda: theory.supermarket_sojourn_s(1.0, 2), "unstable"),
    (lambda: theory.supermarket_sojourn_s(0.5, 0), "choices"),
    (lambda: theory.supermarket_tail(0.5, 2, -1), "jobs"),
    (lambda: theory.round_robin_sojourn_s(1.2, 4), "unstable"),
    (lambda: theory.round_robin_sojourn_s(0.5, 0), "servers"),
    (lambda: theory.round_robin_sojourn_s(-0.5, 2), "load"),
    (lambda: theory.balls_max_load(2, 1), "bins"),
])
def test_balancing_formulas_refuse_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()
