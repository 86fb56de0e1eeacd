"""Issue 18: every public callable of scalekit.sim (the shared engine), given one bad value at
a time, refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a
reason listed here. The machinery and its rules: tests/_walk.py.
"""

from __future__ import annotations

import functools

import numpy as np

import _walk

PACKAGE = "scalekit.sim"

S = "scalekit.sim"


def _service():
    from scalekit import sim
    return sim.Exponential(0.1)


def _workload():
    from scalekit import sim
    return sim.Workload.poisson(20.0, _service(), n=40, seed=1)


def _trace():
    from scalekit import sim
    return sim.TrafficTrace(np.array([0.0, 5.0, 10.0]), np.array([2.0, 6.0, 2.0]))


def _policy():
    from scalekit import balancing
    return balancing.policy("fewest_connections")


def _dispatcher():
    from scalekit import sim
    return sim.Dispatcher([1.0, 1.0], _policy(), np.random.default_rng(0), compiled=False)


@functools.cache
def _results():
    from scalekit import sim
    return sim.run(_workload(), servers=2, policy=_policy(), seed=1, compiled=False)


def _arrays() -> dict:
    return {"arrivals_at": np.array([0.0, 0.1, 0.2, 0.3]),
            "work_s": np.array([0.2, 0.1, 0.2, 0.1])}


def _crash():
    from scalekit import sim
    return sim.Crash(1)


EXAMPLES = {
    f"{S}.core.Dispatcher": lambda: {"speeds": [1.0, 1.0], "policy": _policy(),
                                     "gen": np.random.default_rng(0), "queue_limit": 10,
                                     "retry_delay_s": 0.01, "decisions": 100,
                                     "compiled": False},
    f"{S}.core.Dispatcher.schedule": lambda: {"at": 0.5, "event": _crash()},
    f"{S}.core.Dispatcher.crash": lambda: {"server": 1, "at": 0.5},
    f"{S}.core.Dispatcher.recover": lambda: {"server": 1, "at": 0.5},
    f"{S}.core.Dispatcher.serve": lambda: {"workload": _workload()},
    f"{S}.core.Crash": lambda: {"server": 1},
    f"{S}.core.Recover": lambda: {"server": 1},
    f"{S}.core.MarkDown": lambda: {"server": 1},
    f"{S}.core.MarkUp": lambda: {"server": 1},
    f"{S}.engine.run": lambda: {"workload": _workload(), "servers": 2, "queue_limit": 20,
                                "warmup_s": 0.1, "seed": 1, "compiled": False},
    f"{S}.engine.cluster_speeds": lambda: {"servers": None, "speeds": [1.0, 2.0]},
    f"{S}.policy.ClusterState": lambda: {"speeds": [1.0, 1.0],
                                         "gen": np.random.default_rng(0)},
    f"{S}.policy.Rule": lambda: {"kind": "assigned", "servers": np.array([0, 1])},
    f"{S}.policy.Assigned": lambda: {"servers": np.array([0, 1, 0])},
    f"{S}.queues.fifo_departures": lambda: {"arrivals_at": [0.0, 0.1, 0.2],
                                            "service_s": [0.2, 0.2, 0.2]},
    f"{S}.queues.fifo_by_server": lambda: {**_arrays(), "speeds": [1.0, 2.0],
                                           "server_of": np.array([0, 1, 0, 1])},
    f"{S}.queues.shared_queue": lambda: {**_arrays(), "speeds": [1.0, 2.0], "limit": 3},
    f"{S}.results.Results.in_system_at": lambda: {"times_s": [0.0, 0.5, 1.0], "server": 0},
    f"{S}.results.Results.queue_lengths": lambda: {"times_s": [0.0, 0.5, 1.0]},
    f"{S}.results.percentiles": lambda: {"values": [0.1, 0.2, 0.3], "qs": [50, 99]},
    f"{S}.results.imbalance": lambda: {"loads": [1.0, 2.0, 3.0]},
    f"{S}.results.bin_edges": lambda: {"duration_s": 10.0, "bin_s": 1.0},
    f"{S}.results.estimate": lambda: {"values": [1.0, 2.0, 3.0]},
    f"{S}.results.replicate": lambda: {"fn": float, "replications": 3},
    f"{S}.workload.ServiceTime": lambda: {"mean_s": 0.1},
    f"{S}.workload.Exponential.sample": lambda: {"n": 5, "gen": np.random.default_rng(0)},
    f"{S}.workload.Deterministic.sample": lambda: {"n": 5, "gen": np.random.default_rng(0)},
    f"{S}.workload.Pareto.sample": lambda: {"n": 5, "gen": np.random.default_rng(0)},
    f"{S}.workload.Reports.sample": lambda: {"n": 5, "gen": np.random.default_rng(0)},
    f"{S}.workload.ServiceTime.sample": lambda: {"n": 5, "gen": np.random.default_rng(0)},
    f"{S}.workload.service_time": lambda: {"name": "pareto", "mean_s": 0.1},
    f"{S}.workload.TrafficTrace": lambda: {"times_s": np.array([0.0, 5.0, 10.0]),
                                           "rates_rps": np.array([2.0, 6.0, 2.0])},
    f"{S}.workload.TrafficTrace.daily": lambda: {"base_rps": 1.0, "peak_rps": 3.0,
                                                 "days": 0.05, "spike_at_s": 600.0,
                                                 "spike_rps": 2.0, "spike_s": 60.0},
    f"{S}.workload.TrafficTrace.rate_at": lambda: {"t_s": [0.0, 2.5, 7.0]},
    f"{S}.workload.poisson_arrivals": lambda: {"rate_rps": 10.0, "n": 20, "seed": 1},
    f"{S}.workload.thinned_arrivals": lambda: {"trace": _trace(), "seed": 1},
    f"{S}.workload.check_expected_requests": lambda: {"what": "the trace", "expected": 50.0},
    f"{S}.workload.Workload": lambda: {**_arrays(), "arrival_rate_rps": 10.0,
                                       "mean_work_s": 0.15, "horizon_s": 1.0,
                                       "peak_rate_rps": 10.0},
    f"{S}.workload.Workload.poisson": lambda: {"rate_rps": 10.0, "service": _service(),
                                               "n": 20, "seed": 1},
    f"{S}.workload.Workload.from_trace": lambda: {"trace": _trace(), "service": _service(),
                                                  "seed": 1},
}

INSTANCES = {
    f"{S}.core.Dispatcher": _dispatcher,
    f"{S}.results.Results": _results,
    f"{S}.workload.ServiceTime": lambda: _service_of("ServiceTime"),
    f"{S}.workload.Exponential": lambda: _service_of("Exponential"),
    f"{S}.workload.Deterministic": lambda: _service_of("Deterministic"),
    f"{S}.workload.Pareto": lambda: _service_of("Pareto"),
    f"{S}.workload.Reports": lambda: _service_of("Reports"),
    f"{S}.workload.TrafficTrace": _trace,
}


def _service_of(name: str):
    from scalekit import sim
    return getattr(sim.workload, name)(0.1)


NONE_SEED = {"None": "seed=None asks for fresh entropy (numpy's default_rng(None)), "
                     "documented"}

NO_INSTANTS = {"empty list": "no instants asked about: an empty answer"}

ACCEPTED = {
    **{(f"{S}.{name}", "seed"): NONE_SEED for name in (
        "engine.run", "workload.rng", "workload.poisson_arrivals", "workload.thinned_arrivals",
        "workload.Workload.poisson", "workload.Workload.from_trace")},
    (f"{S}.engine.cluster_speeds", "servers"): {
        "None": "None: as many servers as speeds, or the default (documented)"},
    (f"{S}.engine.cluster_speeds", "speeds"): {
        "None": "None: identical speed-1 servers (documented)"},
    (f"{S}.policy.Assigned", "name"): {"string": "any non-empty text labels the results"},
    (f"{S}.queues.shared_queue", "limit"): {"None": "None: no limit (documented)"},
    (f"{S}.results.Results.in_system_at", "times_s"): NO_INSTANTS,
    (f"{S}.results.Results.queue_lengths", "times_s"): NO_INSTANTS,
    (f"{S}.workload.TrafficTrace.rate_at", "t_s"): NO_INSTANTS,
    (f"{S}.results.imbalance", "loads"): {
        "empty list": "no servers loaded: NaN (documented)"},
    (f"{S}.workload.check_expected_requests", "what"): {
        "string": "any text says how the expectation was computed (quoted in the error)"},
}

HOOK = ("a hook the dispatch loop calls with its own checked arguments (a policy subclass "
        "overrides it; the policy itself is checked where it enters: sim.run, Dispatcher)")
SKIP = {
    f"{S}.compiled.warm_up": "compiles the numba kernels (seconds); takes no argument",
    **{f"{S}.compiled.{name}": "a numba kernel's entry, called only by queues.fifo_by_server, "
                               "measure and Dispatcher with arrays they checked (walked there)"
       for name in ("fifo_by_server", "busy_by_server", "dispatch")},
    f"{S}.results.measure": "sim.run's summary step, called only by run with the arrays the "
                            "run computed from a checked workload (the hot path skips copies)",
    f"{S}.workload.ServiceTime.sample": "the hook a variant overrides (the base raises "
                                        "NotImplementedError); every variant's is walked",
    f"{S}.core.Dispatch": "a result dataclass built only by Dispatcher.serve",
    f"{S}.results.Results": "a result dataclass built only by measure (sim.run); its methods "
                            "are walked on one",
    f"{S}.policy.Policy": "the base class of every policy; takes no argument",
    **{f"{S}.policy.{cls}.{hook}": HOOK
       for cls in ("Policy", "Assigned")
       for hook in ("reset", "assign", "choose", "choose_again", "accepted", "rule",
                    "servers_examined")},
    **{f"{S}.core.{cls}.apply": "an event's effect, applied only by the dispatch loop to "
                                "itself"
       for cls in ("Event", "Crash", "Recover", "MarkDown", "MarkUp")},
    f"{S}.core.Dispatcher.refused": "the refusal hook the dispatch loop calls (a model on "
                                    "it overrides it)",
    f"{S}.policy.ClusterState.mark": "called only by the dispatch loop's health-check events "
                                     "(MarkDown/MarkUp, walked) with a server they checked",
}


def test_walk_api():
    _walk.assert_clean(__file__)


# --------------------------------------------------------------------------- hypothesis
# On top of the walk: any number in a workload's size parameters is either drawn (within
# MAX_REQUESTS) or refused by name before anything is allocated.

import math  # noqa: E402

import pytest  # noqa: E402
from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(min_value=-10**15, max_value=10**15))


def _refused_by_name(exc: Exception, *names: str) -> bool:
    return any(_walk.names(str(exc), n) for n in names)


@settings(max_examples=30, deadline=None)
@given(rate=NUMBERS, horizon=NUMBERS)
# Found by a soak over Hypothesis seeds: the product overflowed to inf, and the refusal
# named an internal "expected" instead of rate_rps and horizon_s.
@example(rate=1.3407807929942597e+154, horizon=1.3407807929942597e+154)
def test_poisson_arrivals_over_any_horizon_is_bounded_or_refused(rate, horizon):
    from scalekit import sim
    try:
        a = sim.poisson_arrivals(rate, horizon_s=horizon, seed=1)
    except (TypeError, ValueError) as exc:
        assert _refused_by_name(exc, "rate_rps", "horizon_s"), str(exc)
        return
    assert a.size <= sim.MAX_REQUESTS and (a.size == 0 or a[-1] < horizon)


@settings(max_examples=30, deadline=None)
@given(days=NUMBERS, step=NUMBERS)
# Found by CI: np.arange rounded its last instant up to the closing one, repeating it.
@example(days=2089298054810507.0, step=2089298054810507.0)
def test_a_daily_trace_of_any_length_is_bounded_or_refused(days, step):
    from scalekit import sim
    try:
        trace = sim.TrafficTrace.daily(base_rps=1.0, peak_rps=2.0, days=days, step_s=step)
    except (TypeError, ValueError) as exc:
        assert _refused_by_name(exc, "days", "step_s"), str(exc)
        return
    assert trace.times_s.size <= sim.workload.MAX_TRACE_POINTS + 1
    assert math.isclose(trace.duration_s, days * 86_400.0)


@pytest.mark.parametrize("name", ["Exponential", "Deterministic", "Pareto", "Reports"])
@settings(max_examples=15, deadline=None)
@given(n=NUMBERS)
def test_a_service_time_draws_any_count_within_bounds_or_refuses_it(name, n):
    from scalekit import sim
    service = getattr(sim, name)(0.1)
    try:
        work = service.sample(n, np.random.default_rng(0))
    except (TypeError, ValueError) as exc:
        assert _walk.names(str(exc), "n"), str(exc)
        return
    assert work.shape == (n,) and n <= sim.MAX_REQUESTS
