"""Vertical vs horizontal scaling, the USL fit and the cost model.

Source for the three designs (c=4, ρ=0.8 → 1.25 / 1.746 / 5.0): Harchol-Balter, Performance
Modeling and Design of Computer Systems (2013) ch. 14, and Kleinrock vol. 1 §3.2, §3.5;
USL: Gunther, Guerrilla Capacity Planning ch. 4–6.
"""

import numpy as np
import pytest

from scalekit import sim, theory
from scalekit.servers import scaling


def test_three_designs_in_theory_order_and_simulation_agrees():
    def one(seed):
        return scaling.compare_scaling(4, 0.8, requests=40_000, seed=seed)
    runs = [one(s) for s in range(8)]
    for attr, theory_attr in [("vertical", "theory_vertical_s"),
                              ("shared_queue", "theory_shared_queue_s"),
                              ("random_dispatch", "theory_random_dispatch_s")]:
        mean, se = sim.estimate([getattr(r, attr).mean_s for r in runs])
        expected = getattr(runs[0], theory_attr)
        assert abs(mean - expected) <= 4 * se, (attr, mean, expected, se)
    c = runs[0]
    assert c.theory_vertical_s == pytest.approx(1.25)
    assert c.theory_shared_queue_s == pytest.approx(1.746, abs=1e-3)
    assert c.theory_random_dispatch_s == pytest.approx(5.0)
    assert [name for name, *_ in c.rows()][0].startswith("one 4×")


def test_usl_fit_recovers_known_parameters():
    n = np.array([1, 2, 4, 8, 16, 32, 64], dtype=float)
    x = 120.0 * np.array([theory.usl_capacity(k, 0.03, 0.0005) for k in n])
    fit = scaling.fit_usl(n, x)
    assert fit.sigma == pytest.approx(0.03, rel=1e-6)
    assert fit.kappa == pytest.approx(0.0005, rel=1e-6)
    assert fit.peak_nodes == pytest.approx(np.sqrt(0.97 / 0.0005))
    np.testing.assert_allclose(fit.throughput_rps(n), x)


def test_usl_fit_is_robust_to_noise():
    rng = np.random.default_rng(1)
    n = np.repeat([1, 2, 4, 8, 16, 32], 5).astype(float)
    x = 100.0 * np.array([theory.usl_capacity(k, 0.05, 0.001) for k in n])
    fit = scaling.fit_usl(n, x * rng.normal(1.0, 0.01, n.size))
    assert fit.sigma == pytest.approx(0.05, abs=0.01)
    assert fit.kappa == pytest.approx(0.001, abs=0.0003)


def _linearised(n, x):
    """Gunther's linearisation: y = N/C − 1 against columns (N − 1, N(N − 1))."""
    c = x[1:] / x[0]
    return np.column_stack([n[1:] - 1, n[1:] * (n[1:] - 1)]), n[1:] / c - 1


def _sse(design, y, sigma, kappa):
    return float(np.sum((y - design @ [sigma, kappa]) ** 2))


def _clipped_fit(design, y):
    """What fit_usl used to do: the free least-squares fit, clipped to the law's ranges."""
    (sigma, kappa), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(np.clip(sigma, 0, 1)), max(float(kappa), 0.0)


def _best_on_a_grid(design, y, sigmas, kappas):
    return min(_sse(design, y, s, k) for s in sigmas for k in kappas)


NODES = np.array([1, 2, 4, 8, 16, 32], dtype=float)


def test_usl_fit_refits_sigma_when_kappa_would_be_negative():
    # Amdahl's law (σ = 0.1, κ = 0) measured exactly, except +6 % at N = 32: the free fit
    # wants κ < 0. Clipping κ to 0 keeps σ = 0.105, which was bent to make up for it.
    x = np.array([theory.usl_capacity(k, 0.1, 0.0) for k in NODES])
    x[-1] *= 1.06
    design, y = _linearised(NODES, x)
    assert np.linalg.lstsq(design, y, rcond=None)[0][1] < 0  # the case under test
    fit = scaling.fit_usl(NODES, x)
    assert fit.kappa == 0.0
    # the least-squares line through the origin on x = N − 1 alone
    u = design[:, 0]
    assert fit.sigma == pytest.approx(u @ y / (u @ u), rel=1e-12)
    assert fit.sigma == pytest.approx(0.0942, abs=1e-4)
    clipped = _sse(design, y, *_clipped_fit(design, y))
    assert _sse(design, y, fit.sigma, fit.kappa) < clipped / 10
    # ... and it is the best fit the law allows: nothing on a fine grid does better
    best = _best_on_a_grid(design, y, np.linspace(0, 1, 401), np.linspace(0, 0.01, 201))
    assert _sse(design, y, fit.sigma, fit.kappa) <= best + 1e-15
    # in throughput too, the refit is the closer curve
    err = float(np.sum((fit.throughput_rps(NODES) - x) ** 2))
    old = scaling.UslFit(*_clipped_fit(design, y), float(x[0]))
    assert err < float(np.sum((old.throughput_rps(NODES) - x) ** 2))


def test_usl_fit_refits_kappa_when_sigma_would_be_negative():
    # σ = 0, κ = 0.001 with +2 % at N = 2 and +3 % at N = 4: the free fit wants σ < 0
    x = np.array([theory.usl_capacity(k, 0.0, 0.001) for k in NODES])
    x[1] *= 1.02
    x[2] *= 1.03
    design, y = _linearised(NODES, x)
    assert np.linalg.lstsq(design, y, rcond=None)[0][0] < 0
    fit = scaling.fit_usl(NODES, x)
    v = design[:, 1]
    assert fit.sigma == 0.0
    assert fit.kappa == pytest.approx(v @ y / (v @ v), rel=1e-12)
    assert _sse(design, y, fit.sigma, fit.kappa) <= _sse(design, y, *_clipped_fit(design, y))
    best = _best_on_a_grid(design, y, np.linspace(0, 1, 401), np.linspace(0, 0.01, 201))
    assert _sse(design, y, fit.sigma, fit.kappa) <= best + 1e-15


def test_cost_model_vertical_has_a_ceiling_and_a_premium():
    m = scaling.CostModel(rps_per_core=100, max_cores=64, price_exponent=1.3, core_sigma=0.02)
    small = m.vertical(150)
    assert small.feasible and small.cores_each == 2
    assert small.capacity_rps >= 150
    # big machines cost more per core than small ones
    assert m.machine_price(64) / 64 > m.machine_price(2) / 2
    too_big = m.vertical(1e6)
    assert not too_big.feasible and "largest machine" in too_big.reason
    # the same demand is cheaper spread over small machines when pricing is super-linear
    demand = 2000
    assert m.horizontal(demand, cores_each=2).cost_per_hour < m.vertical(demand).cost_per_hour


def test_horizontal_stops_at_the_usl_peak():
    m = scaling.CostModel(node_sigma=0.05, node_kappa=0.01)
    plan = m.horizontal(1e6, cores_each=1)
    assert not plan.feasible and "USL peak" in plan.reason
    peak = theory.usl_peak(0.05, 0.01)
    assert plan.capacity_rps == pytest.approx(
        m.machine_rps(1) * max(theory.usl_capacity(k, 0.05, 0.01) for k in range(1, 50)))
    assert peak < 50


def test_horizontal_says_when_max_servers_was_the_limit():
    # no contention, no coherency: capacity grows forever, so only max_servers stops it
    m = scaling.CostModel(node_sigma=0, node_kappa=0)
    plan = m.horizontal(1e5, max_servers=10)
    assert not plan.feasible
    assert "max_servers=10" in plan.reason and "the limit was max_servers" in plan.reason
    assert "(the USL peak)" not in plan.reason
    assert plan.capacity_rps == pytest.approx(10 * m.machine_rps(2))
    # a peak beyond max_servers: still max_servers that stopped it
    m = scaling.CostModel(node_sigma=0.0, node_kappa=1e-6)
    assert "the limit was max_servers" in m.horizontal(1e6, max_servers=50).reason


def test_vertical_reports_the_best_machine_when_more_cores_carry_less():
    # κ > 0 within a machine: capacity peaks at sqrt(0.98/0.002) ≈ 22 cores, then falls
    m = scaling.CostModel(core_kappa=0.002)
    rps = {c: m.machine_rps(c) for c in range(1, m.max_cores + 1)}
    best = max(rps, key=rps.get)
    assert best == 22 and rps[best] > rps[m.max_cores]
    plan = m.vertical(1e4)
    assert not plan.feasible
    assert plan.cores_each == best
    assert plan.capacity_rps == pytest.approx(rps[best])
    assert plan.cost_per_hour == pytest.approx(m.machine_price(best))
    assert "22-core" in plan.reason and f"{rps[best]:.4g} req/s" in plan.reason
    assert "largest machine" not in plan.reason
    # still the smallest machine when one is enough
    assert m.vertical(rps[best] * 0.99).cores_each < best


@pytest.mark.parametrize("call,exc,name", [
    (lambda: scaling.compare_scaling(0, 0.5), ValueError, "factor"),
    (lambda: scaling.compare_scaling(2, 1.0), ValueError, "load"),
    (lambda: scaling.compare_scaling(2, 0.5, requests=10), ValueError, "requests"),
    (lambda: scaling.fit_usl([2, 4, 8], [1, 2, 3]), ValueError, "1 node"),
    (lambda: scaling.fit_usl([1, 2], [1, 2]), ValueError, "nodes"),
    (lambda: scaling.fit_usl([1, 2, 4], [1, 0, 3]), ValueError, "throughput_rps"),
    (lambda: scaling.CostModel(price_exponent=0.5), ValueError, "price_exponent"),
    (lambda: scaling.CostModel(max_cores=0), ValueError, "max_cores"),
    (lambda: scaling.CostModel().vertical(0), ValueError, "demand_rps"),
    (lambda: scaling.CostModel().horizontal(10, cores_each=1000), ValueError, "cores_each"),
])
def test_bad_input(call, exc, name):
    with pytest.raises(exc, match=name):
        call()
