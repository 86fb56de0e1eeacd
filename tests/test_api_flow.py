"""Issue 18: every public callable of scalekit.flow, given one bad value at a time, refuses it
clearly (TypeError/ValueError naming the parameter) or accepts it for a reason listed here.
The machinery and its rules: tests/_walk.py.
"""

from __future__ import annotations

import functools

import _walk

PACKAGE = "scalekit.flow"

F = "scalekit.flow"


@functools.cache
def _results():
    from scalekit import balancing, sim
    work = sim.Workload.poisson(30.0, sim.service_time("exponential", 0.1), n=60, seed=1)
    return sim.run(work, servers=3, policy=balancing.policy("round_robin"), seed=1,
                   compiled=False)  # the numpy path: no numba kernels to load


@functools.cache
def _failure():
    from scalekit import balancing, sim
    work = sim.Workload.poisson(30.0, sim.service_time("exponential", 0.1), horizon_s=6.0,
                                seed=1)
    return balancing.simulate_backend_failure(work, crashed_at=2.0, recovered_at=4.0,
                                              servers=3, inter_s=0.5, seed=1)


@functools.cache
def _sessions():
    from scalekit import sessions
    return sessions.simulate_sessions("sticky_cookie", servers=3, users=6, visit_requests=3,
                                      duration_s=10.0, server_fails_at=5.0, real_store=False,
                                      seed=1)


def _arrays() -> dict:
    return {"arrivals_at": [0.0, 0.1, 0.2, 0.3], "server_of": [0, 1, 0, -1],
            "departures_at": [0.15, 0.3, 0.4, float("nan")], "servers": 2}


def _trace():
    from scalekit import flow
    return flow.flow_trace(**_arrays(), user_of=[0, 1, 0, -1])


EXAMPLES = {
    f"{F}.flow_trace": lambda: {**_arrays(), "outcome": [0, 0, 0, 5],
                                "first_server": [0, 1, 0, -1],
                                "retried_at": [float("nan")] * 4,
                                "ended_at": [0.15, 0.3, 0.4, 0.3], "user_of": [0, 1, 0, -1],
                                "events": [(0.05, "crash", 1)], "horizon_s": 1.0,
                                "follow": 2, "title": "four requests"},
    f"{F}.trace_results": lambda: {"results": _results(), "cache_hits_at": [0.5, 1.0]},
    f"{F}.trace_backend_failure": lambda: {"result": _failure()},
    f"{F}.trace_sessions": lambda: {"result": _sessions()},
    f"{F}.FlowTrace.in_system_at": lambda: {"times_s": [0.0, 0.2, 0.5], "server": 0},
    f"{F}.FlowTrace.waiting_at": lambda: {"times_s": [0.0, 0.2, 0.5], "server": 0},
}

INSTANCES = {f"{F}.FlowTrace": _trace}

OPTIONAL_ARRAY = {"None": "None: the documented default for an optional per-request array"}

ACCEPTED = {
    (f"{F}.flow_trace", "departures_at"): {
        "None": "None: an untimed trace (the model keeps no service times; documented)"},
    **{(f"{F}.flow_trace", name): OPTIONAL_ARRAY
       for name in ("outcome", "first_server", "retried_at", "ended_at", "user_of")},
    (f"{F}.flow_trace", "horizon_s"): {"None": "None: the last instant of the trace"},
    (f"{F}.flow_trace", "events"): {"empty list": "no events: nothing happened to a server"},
    (f"{F}.flow_trace", "follow"): {
        "empty list": "follow no user in a colour of their own (documented: which users)"},
    (f"{F}.flow_trace", "title"): {"string": "any text titles a trace"},
    (f"{F}.trace_results", "cache_hits_at"): {
        "None": "None: no cache in front (documented)",
        "empty list": "a cache that answered nothing"},
    (f"{F}.trace_results", "user_of"): {"None": "None: no user to follow (documented)"},
    **{(f"{F}.{name}", "title"): {"None": "None: the model's policy or strategy name",
                                  "string": "any text titles a trace"}
       for name in ("trace_results", "trace_backend_failure", "trace_sessions")},
    **{(f"{F}.{name}", "follow"): {
        "empty list": "follow no user in a colour of their own (documented: which users)"}
       for name in ("trace_results", "trace_backend_failure", "trace_sessions")},
    (f"{F}.FlowTrace.in_system_at", "server"): {"None": "None: every server (documented)"},
    **{(f"{F}.FlowTrace.{name}", "times_s"): {"empty list": "no instants: an empty answer"}
       for name in ("in_system_at", "waiting_at")},
}

SKIP = {
    f"{F}.FlowTrace": "a trace dataclass built only by flow_trace (walked) and the trace_* "
                      "readers; its methods are walked on one",
    f"{F}.FlowEvent": "an event record built only by flow_trace from checked triples",
}


def test_walk_api():
    _walk.assert_clean(__file__)
