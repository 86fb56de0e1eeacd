"""Comparing policies on one scenario: same requests for every policy, speeds that spread
evenly around 1, the request-cost mixes, and errors that name the problem."""

import math

import numpy as np
import pytest

from scalekit import balancing, sim, theory


def test_spread_speeds_keep_the_capacity():
    s = balancing.spread_speeds(5, 0.5)
    assert s == pytest.approx((0.5, 0.75, 1.0, 1.25, 1.5))
    assert sum(balancing.spread_speeds(16, 0.9)) == pytest.approx(16)
    assert balancing.spread_speeds(1, 0.9) == (1.0,)
    with pytest.raises(ValueError, match="spread"):
        balancing.spread_speeds(4, 1.0)


def test_scenario_offers_the_load_asked_for():
    sc = balancing.scenario(servers=8, load=0.7, spread=0.4, cost="pareto", mean_work_s=0.02,
                            requests=5000, seed=3)
    assert sc.servers == 8 and sc.cost == "pareto"
    w = sc.workload
    assert w.arrival_rate_rps * w.mean_work_s / sum(sc.speeds) == pytest.approx(0.7)


def test_every_policy_sees_the_same_requests():
    comp = balancing.compare_policies(["random", "fewest_connections", "least_work"],
                                      servers=4, load=0.8, requests=3000, seed=5)
    arrivals = [r.arrivals_at for r in comp.results.values()]
    for a in arrivals[1:]:
        np.testing.assert_array_equal(a, arrivals[0])
    assert list(comp.results) == ["random", "fewest_connections", "least_work"]
    # the best is the lowest p99, and least work (one shared queue) cannot lose to random
    assert comp.best == min(comp.results, key=lambda k: comp[k].p99_s)
    assert comp["least_work"].p99_s < comp["random"].p99_s
    html = comp._repr_html_()
    assert "fewest_connections" in html and "p99 (ms)" in html


def test_weighted_round_robin_by_name_weighs_by_speed():
    """By name in a comparison, weighted round robin gets nginx weights ∝ speed, so on a
    mixed cluster its busiest server is far less busy than plain round robin's."""
    comp = balancing.compare_policies(["round_robin", "weighted_round_robin"], servers=4,
                                      spread=0.6, load=0.7, requests=20_000, seed=2)
    assert max(comp["round_robin"].utilisation) > 0.99  # the 0.4-speed server drowns
    assert max(comp["weighted_round_robin"].utilisation) < 0.85


def test_unstable_scenario_is_reported_and_bounded():
    comp = balancing.compare_policies(["random"], servers=2, load=1.2, requests=2000)
    assert comp["random"].unstable
    assert "unstable" in comp._repr_html_()


def test_supermarket_runs_sit_near_the_limit():
    """One run per point, so the tolerance is one run's: at load 0.5 an M/M/1 mean over
    ~32,000 measured requests has a standard error near 1% (its autocorrelation time is a
    few service times); allow 5%. Two choices on 50 servers sit just above T_2 (finite n)."""
    runs = balancing.supermarket_runs(loads=(0.5,), choices=(1, 2), servers=50,
                                      requests=40_000, seed=1)
    (load1, mean1), = runs[1]
    (load2, mean2), = runs[2]
    assert load1 == load2 == 0.5
    assert mean1 == pytest.approx(theory.mm1_sojourn_s(0.5, 1.0), rel=0.05)
    limit = theory.supermarket_sojourn_s(0.5, 2)
    assert limit * 0.97 <= mean2 <= limit * 1.05
    assert mean2 < mean1 and math.isfinite(mean2)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: balancing.scenario(cost="uniform"), ValueError, "cost"),
    (lambda: balancing.scenario(servers=0), ValueError, "servers"),
    (lambda: balancing.scenario(load=0.0), ValueError, "load"),
    (lambda: balancing.scenario(requests=10**9), ValueError, "requests"),
    (lambda: balancing.compare_policies([]), ValueError, "policies"),
    (lambda: balancing.compare_policies("random"), TypeError, "policies must be a list"),
    (lambda: balancing.compare_policies(["random", "random"]), ValueError, "twice"),
    (lambda: balancing.supermarket_runs(loads=()), ValueError, "loads"),
    (lambda: balancing.supermarket_runs(requests=2_000_000,
                                        loads=(0.5, 0.6, 0.7, 0.8, 0.85, 0.9)),
     ValueError, "requests"),  # 24,000,000 in all: past MAX_SUPERMARKET_REQUESTS
    (lambda: balancing.compare_policies(["nope"]), ValueError, "policy 'nope'"),
    (lambda: balancing.compare_policies([3.5]), TypeError, "policy"),
    (lambda: balancing.compare_policies(scenario="x"), TypeError, "scenario"),
    (lambda: balancing.compare_policies(scenario=balancing.scenario(), load=0.5), TypeError,
     "either"),
    (lambda: balancing.supermarket_runs(loads=(1.0,)), ValueError, "loads"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_a_student_policy_plugs_in():
    class Lowest(sim.Policy):
        name = "lowest_index_idle"

        def choose(self, state):
            return min(range(state.n_servers), key=lambda i: (state.connections[i], i))

    comp = balancing.compare_policies([Lowest(), "random"], servers=3, load=0.3,
                                      requests=2000, seed=1)
    assert list(comp.results) == ["lowest_index_idle", "random"]
    u = comp["lowest_index_idle"].utilisation
    assert u[0] > u[1] > u[2]  # ties to the lowest index pile light traffic on server 0


def test_two_settings_of_one_rule_can_be_compared():
    comp = balancing.compare_policies([balancing.PowerOfTwoChoices(2),
                                       balancing.PowerOfTwoChoices(3)], servers=20, load=0.9,
                                      requests=20_000, seed=3)
    assert list(comp.results) == ["power_of_two", "PowerOfTwoChoices(choices=3)"]
    assert comp["PowerOfTwoChoices(choices=3)"].mean_s < comp["power_of_two"].mean_s
