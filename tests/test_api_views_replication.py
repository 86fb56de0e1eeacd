"""Issue 18: every public callable of scalekit.views.replication, given one bad value at a
time, refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a
reason listed here. The machinery and its rules: tests/_walk.py. (Views take model results;
the models' own parameters are walked in tests/test_api_replication.py.)
"""

from __future__ import annotations

import functools

import _walk

PACKAGE = "scalekit.views.replication"

V = "scalekit.views.replication"
SHORT = {"duration_s": 1.0, "writes_per_s": 20.0, "fail_at": 0.5, "seed": 3}


@functools.cache
def _modes():
    from scalekit import replication
    return tuple(replication.compare_commit_modes(**SHORT))


def _run():
    return _modes()[0]


def _conflicts():
    from scalekit import replication
    return replication.simulate_conflicts(updates=30)


def _trace():
    from scalekit.views import replication as view
    return view.trace_write(replicas=2)


EXAMPLES = {
    f"{V}.multi.plot_conflicts": lambda: {"result": _conflicts()},
    f"{V}.single.plot_commit_modes": lambda: {"results": list(_modes())},
    f"{V}.single.plot_lag": lambda: {"result": _run()},
    f"{V}.timeline.plot_write_timeline": lambda: {"trace": _trace()},
}

ACCEPTED = {
    (f"{V}.timeline.trace_write", "seed"): {
        "None": "seed=None asks for fresh entropy (numpy's default_rng(None)), documented"},
    (f"{V}.single.plot_lag", "fail_at"): {
        "None": "None: the instant the run's settings name (documented)"},
    (f"{V}.single.plot_lag", "failover_s"): {
        "None": "None: the run's settings (documented)"},
    (f"{V}.timeline.plot_write_timeline", "trace"): {
        "None": "None: a default trace (documented)"},
}

SKIP = {
    f"{V}.timeline.WriteTrace": "a result dataclass built only by trace_write",
    # views of scalekit.replication.postgres (issue 13's helper): each takes a result only a
    # real PostgreSQL run builds (seconds); their type checks come first (views._common)
    **{f"{V}.postgres.{name}": "takes a result only a real-PostgreSQL run builds"
       for name in ("plot_lag", "plot_read_your_writes", "plot_commit_latency",
                    "plot_failover")},
}


def test_walk_api():
    _walk.assert_clean(__file__)
