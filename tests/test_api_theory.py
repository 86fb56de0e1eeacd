"""Issue 18: every public function of scalekit.theory (the closed forms), given one bad value
at a time, refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a
reason listed here. The machinery and its rules: tests/_walk.py.
"""

from __future__ import annotations

import _walk

PACKAGE = "scalekit.theory"

T = "scalekit.theory"
MM1 = {"arrival_rate": 8.0, "service_rate": 10.0}

EXAMPLES = {
    f"{T}.mm1_sojourn_s": lambda: MM1,
    f"{T}.mm1_wait_s": lambda: MM1,
    f"{T}.mm1_quantile_s": lambda: {**MM1, "q": 0.99},
    f"{T}.erlang_c": lambda: {"servers": 4, "offered_erlangs": 3.0},
    f"{T}.mmc_wait_s": lambda: {**MM1, "servers": 2},
    f"{T}.mmc_sojourn_s": lambda: {**MM1, "servers": 2},
    f"{T}.mg1_sojourn_s": lambda: {"arrival_rate": 8.0, "mean_service_s": 0.1, "scv": 1.0},
    f"{T}.mm1k_blocking": lambda: {**MM1, "capacity": 10},
    f"{T}.mva_closed": lambda: {"users": 20, "service_demand_s": 0.05, "think_time_s": 1.0},
    f"{T}.usl_capacity": lambda: {"n": 8, "sigma": 0.05, "kappa": 0.001},
    f"{T}.usl_peak": lambda: {"sigma": 0.05, "kappa": 0.001},
    f"{T}.supermarket_tail": lambda: {"load": 0.9, "choices": 2, "jobs": 3},
    f"{T}.supermarket_sojourn_s": lambda: {"load": 0.9},
    f"{T}.round_robin_sojourn_s": lambda: {"load": 0.9, "servers": 4},
    f"{T}.balls_max_load": lambda: {"bins": 1000},
}

ACCEPTED = {
    (f"{T}.mm1k_blocking", "arrival_rate"): {
        "huge float": "an overloaded M/M/1/K: blocking tends to 1, computed without overflow"},
    (f"{T}.mm1k_blocking", "service_rate"): {
        "huge float": "an almost idle M/M/1/K: blocking tends to 0"},
}

SKIP: dict[str, str] = {}


def test_walk_api():
    _walk.assert_clean(__file__)
