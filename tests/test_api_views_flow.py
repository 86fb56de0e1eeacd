"""Issue 18: every public callable of scalekit.views.flow, given one bad value at a time,
refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a reason
listed here. The machinery and its rules: tests/_walk.py. (The traces' own parameters are
walked in tests/test_api_flow.py.)
"""

from __future__ import annotations

import functools

import _walk

PACKAGE = "scalekit.views.flow"

V = "scalekit.views.flow"


def _trace():
    from scalekit import flow
    return flow.flow_trace([0.0, 0.1, 0.2, 0.3], [0, 1, 0, -1],
                           [0.15, 0.3, 0.4, float("nan")], servers=2, user_of=[0, 1, 0, -1])


@functools.cache
def _results():
    from scalekit import balancing, sim
    work = sim.Workload.poisson(30.0, sim.Exponential(0.1), n=40, seed=1)
    return sim.run(work, servers=3, policy=balancing.policy("round_robin"), seed=1,
                   compiled=False)  # the numpy path: no numba kernels to load


EXAMPLES = {
    f"{V}.static.plot_flow": lambda: {"trace": _trace()},
    f"{V}.widget.FlowView": lambda: {"trace": _trace(), "speed": 2.0},
    f"{V}.widget.animate": lambda: {"result": _results(), "speed": 2.0, "playing": False},
}

ACCEPTED = {
    (f"{V}.widget.FlowView", "speed"): {
        "None": "None: a speed chosen from the trace's length (documented)"},
    (f"{V}.widget.animate", "speed"): {
        "None": "None: a speed chosen from the trace's length (documented, FlowView)"},
}

SKIP: dict[str, str] = {}


def test_walk_api():
    _walk.assert_clean(__file__)
