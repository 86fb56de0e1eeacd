"""Vertical vs horizontal scaling, the USL fit and the cost model.

Source for the three designs: REFERENCES.md (c=4, ρ=0.8 → 1.25 / 1.746 / 5.0) and
Kleinrock vol. 1; USL: Gunther, Guerrilla Capacity Planning ch. 4–6.
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
