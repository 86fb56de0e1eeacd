"""Issue 18: every public callable of scalekit.views.servers, given one bad value at a time,
refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a reason
listed here. The machinery and its rules: tests/_walk.py. (Views take model results; the
models' own parameters are walked in tests/test_api_servers.py.)
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import _walk

PACKAGE = "scalekit.views.servers"

V = "scalekit.views.servers"


def _trace():
    from scalekit import sim
    return sim.TrafficTrace(np.array([0.0, 300.0, 600.0]), np.array([20.0, 80.0, 20.0]))


@functools.cache
def _autoscale():
    from scalekit.servers import autoscaling
    return autoscaling.autoscale(_trace(), max_servers=10, seed=1)


@functools.cache
def _saturated():
    from scalekit.views.servers import capacity
    return capacity.saturate(rate_rps=20.0, duration_s=5.0)


@functools.cache
def _ramp():
    from scalekit.servers import capacity
    return capacity.ramp(_service(), rates_rps=[20.0, 60.0], slo_s=0.1, step_s=5.0, seed=1)


def _service():
    from scalekit import sim
    return sim.Exponential(0.01)


def _config():
    from scalekit.servers import heartbeats
    return heartbeats.HeartbeatConfig(horizon_s=3_600.0, servers=2)


@functools.cache
def _heartbeats():
    from scalekit.servers import heartbeats
    return heartbeats.simulate_heartbeats(_config(), crashes=20, seed=1)


@functools.cache
def _tradeoff():
    from scalekit.servers import heartbeats
    return heartbeats.timeout_tradeoff(_config(), timeouts_s=[2.0, 3.0], crashes=20, seed=1)


@functools.cache
def _choice():
    from scalekit.servers import heartbeats
    return heartbeats.choose_timeout(5.0, 1.0, _config(), timeouts_s=[2.0, 3.0], crashes=20,
                                     seed=1)


@functools.cache
def _bench():
    from scalekit.servers import httpbench
    with httpbench.BenchServer(work_ms=0.5, max_lifetime_s=60.0) as server:
        return httpbench.benchmark(server, users=[1, 2], step_s=0.2, requests=10)


@functools.cache
def _scaling():
    from scalekit.servers import scaling
    return scaling.compare_scaling(2, 0.7, requests=500, seed=1)


def _cost():
    from scalekit.servers import scaling
    return scaling.CostModel()


def _fit():
    from scalekit.servers import scaling
    return scaling.UslFit(0.05, 0.001, 100.0)


EXAMPLES = {
    f"{V}.capacity.saturate": lambda: {"rate_rps": 20.0, "duration_s": 5.0},
    f"{V}.capacity.plot_saturation": lambda: {"result": _saturated()},
    f"{V}.capacity.plot_ramp": lambda: {"result": _ramp()},
    f"{V}.heartbeats.plot_heartbeats": lambda: {"result": _heartbeats(), "window_s": 10.0},
    f"{V}.heartbeats.plot_timeout_tradeoff": lambda: {"tradeoff": _tradeoff(),
                                                      "choice": _choice()},
    f"{V}.httpbench.run_benchmark": lambda: {"work_ms": 0.5, "users": [1], "step_s": 0.2},
    f"{V}.httpbench.plot_benchmark": lambda: {"result": _bench()},
    f"{V}.scaling.plot_scaling": lambda: {"result": _scaling()},
    f"{V}.scaling.plot_usl": lambda: {"sigma": 0.05, "kappa": 0.001, "max_nodes": 16,
                                      "fit": _fit(),
                                      "measured": ([1, 2, 4], [100.0, 190.0, 330.0])},
    f"{V}.scaling.plot_costs": lambda: {"model": _cost(), "demands_rps": [100.0, 1000.0]},
}

ACCEPTED = {
    (f"{V}.capacity.saturate", "seed"): {
        "None": "seed=None asks for fresh entropy (numpy's default_rng(None)), documented"},
    (f"{V}.heartbeats.plot_timeout_tradeoff", "choice"): {
        "None": "None: no chosen timeout is marked (documented)"},
    (f"{V}.scaling.plot_usl", "fit"): {"None": "None: no fitted curve (documented)"},
    (f"{V}.scaling.plot_usl", "measured"): {"None": "None: no measured points (documented)"},
}

SKIP = {
    f"{V}.autoscaling.plot_autoscaling": "takes its results as *results, which the walk cannot "
                                         "pass; its keywords are walked below "
                                         "(test_plot_autoscaling_refuses_bad_keywords)",
    **{f"{V}.{name}": "builds an interactive panel (no argument); its sliders bound every "
                      "value, and the model under it is walked in test_api_servers.py"
       for name in ("autoscaling.explore_autoscaling", "capacity.explore_saturation",
                    "capacity.explore_ramp", "heartbeats.explore_heartbeats",
                    "scaling.explore_scaling", "scaling.explore_usl")},
}


def test_walk_api():
    _walk.assert_clean(__file__)


@pytest.mark.parametrize("label", list(_walk.BAD))
@pytest.mark.parametrize("name", ["mean_service_s", "latency"])
def test_plot_autoscaling_refuses_bad_keywords(name, label):
    """The walk, by hand, for the one view taking *results: each keyword with each bad value
    (mean_service_s is a time > 0, latency True or False; a huge time is drawn, as the walk
    allows for a value that allocates nothing)."""
    from scalekit.views import servers as view
    if name == "mean_service_s" and label.startswith("huge"):
        view.plot_autoscaling(_autoscale(), mean_service_s=_walk.BAD[label]())
        return
    with pytest.raises((TypeError, ValueError)) as caught:
        view.plot_autoscaling(_autoscale(), **{name: _walk.BAD[label]()})
    assert _walk.names(str(caught.value), name)
    with pytest.raises(TypeError, match="results"):
        view.plot_autoscaling(_autoscale(), "not a result")
