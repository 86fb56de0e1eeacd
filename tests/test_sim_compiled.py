"""The compiled fast path (scalekit.sim.compiled) gives, bit for bit, what the pure-Python
reference path gives — the same servers, the same departure instants, the same statistics —
for every built-in policy that states its decision as a Rule; a policy written in Python
still runs, in Python; numba missing or no writable cache leaves everything working.

The reference is the Python dispatch loop and numpy's closed form (tests/test_sim_engine.py
checks those against queueing theory and SimPy); here the two paths are compared on seeded
runs, with exact equality (``assert_array_equal``): no tolerance, since every floating-point
operation is the same one in the same order. Sources for the machinery: numba's
documentation, "Notes on caching" (cache=True writes next to the source file, else to the
user's cache directory; a function whose cache cannot be located cannot be cached).
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalekit import balancing, sim
from scalekit.sim import compiled

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba is not installed")
ROOT = Path(__file__).resolve().parent.parent


def policies():
    return [balancing.RandomChoice(), balancing.RoundRobin(),
            balancing.WeightedRoundRobin([3, 1, 2, 1, 1]), balancing.FewestConnections(),
            balancing.PowerOfTwoChoices(), balancing.PowerOfTwoChoices(3),
            balancing.LeastWork(), balancing.IpHash(clients=300),
            balancing.ConsistentHash(clients=300)]


def same(a: sim.Results, b: sim.Results) -> None:
    np.testing.assert_array_equal(a.server_of, b.server_of)
    np.testing.assert_array_equal(a.departures_at, b.departures_at)
    for f in dataclasses.fields(sim.Results):
        if f.repr:
            assert getattr(a, f.name) == getattr(b, f.name) or (
                getattr(a, f.name) != getattr(a, f.name)), f.name  # NaN == NaN here


@pytest.mark.parametrize("queue_limit", [None, 2])
@pytest.mark.parametrize("speeds", [(1.0,) * 5, (0.5, 1.0, 1.5, 0.8, 1.2)],
                         ids=["equal", "unequal"])
@pytest.mark.parametrize("index", range(len(policies())), ids=[repr(p) for p in policies()])
def test_every_built_in_rule_gives_the_python_results(index, speeds, queue_limit):
    w = sim.Workload.poisson(0.9 * sum(speeds), sim.Pareto(1.0), n=20_000, seed=index + 1)
    kw = dict(speeds=speeds, queue_limit=queue_limit, seed=7, warmup_s=50.0)
    fast = sim.run(w, policy=policies()[index], compiled=True, **kw)
    slow = sim.run(w, policy=policies()[index], compiled=False, **kw)
    same(fast, slow)
    assert (fast.dropped > 0) == (queue_limit is not None)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 400), servers=st.integers(1, 6), limit=st.sampled_from([None, 1, 3]),
       which=st.sampled_from(["fewest_connections", "power_of_two", "least_work", "random"]),
       spaced=st.booleans(), seed=st.integers(0, 2**32))
def test_ties_and_small_runs_agree_too(n, servers, limit, which, spaced, seed):
    """Evenly spaced arrivals with equal work make every decision a tie (the rotation rule
    decides); Poisson arrivals do not. Either way the two paths agree exactly."""
    if spaced:
        w = sim.Workload(np.arange(n) * 0.5, np.full(n, 1.0))
    else:
        w = sim.Workload.poisson(0.8 * servers, sim.Exponential(1.0), n=n, seed=seed)
    fast = sim.run(w, servers=servers, policy=balancing.policy(which), queue_limit=limit,
                   seed=seed, compiled=True)
    slow = sim.run(w, servers=servers, policy=balancing.policy(which), queue_limit=limit,
                   seed=seed, compiled=False)
    same(fast, slow)


def test_a_policy_written_in_python_runs_in_python():
    """A student's class has no Rule: compiled=None runs its choose (here: always server 1);
    compiled=True says why it cannot. A subclass of a built-in that overrides choose is the
    student's rule, not the built-in's, and runs in Python too."""

    class AlwaysOne(sim.Policy):
        def choose(self, state):
            return 1

    class NotReallyFewest(balancing.FewestConnections):
        def choose(self, state):
            return 0

    w = sim.Workload.poisson(1.0, sim.Exponential(1.0), n=200, seed=1)
    assert set(sim.run(w, servers=3, policy=AlwaysOne()).server_of) == {1}
    assert set(sim.run(w, servers=3, policy=NotReallyFewest()).server_of) == {0}
    for policy in (AlwaysOne(), NotReallyFewest()):
        with pytest.raises(ValueError, match="gives no Rule"):
            sim.run(w, servers=3, policy=policy, compiled=True)


def test_the_fast_path_only_runs_what_it_models():
    d = sim.Dispatcher((1.0, 1.0), balancing.FewestConnections(), sim.rng(0), compiled=True)
    d.schedule(1.0, sim.Crash(0))
    with pytest.raises(ValueError, match="nothing scheduled"):
        d.serve(sim.Workload([0.0, 2.0], [1.0, 1.0]))
    with pytest.raises(ValueError, match="outside"):
        compiled.dispatch(np.array([0.0]), np.array([1.0]), [1.0],
                          sim.Rule("assigned", np.array([3])), None)
    with pytest.raises(ValueError, match="shape"):
        compiled.dispatch(np.array([0.0, 1.0]), np.array([1.0, 1.0]), [1.0],
                          sim.Rule("least_of_draws", np.array([[0, 0]])), None)
    with pytest.raises(TypeError, match="compiled"):
        sim.run(sim.Workload([0.0], [1.0]), policy=balancing.RoundRobin(), compiled="yes")


def test_the_closed_form_and_the_busy_time_kernels_match_numpy():
    from scalekit.sim import queues

    w = sim.Workload.poisson(7.0, sim.Exponential(1.0), n=50_000, seed=3)
    who = sim.rng(4).integers(0, 8, len(w))
    speeds = (0.5, 1.0, 2.0, 1.0, 1.0, 0.7, 1.3, 1.0)
    np.testing.assert_array_equal(compiled.fifo_by_server(w.arrivals_at, w.work_s, speeds, who),
                                  queues.fifo_by_server(w.arrivals_at, w.work_s, speeds, who))
    end = queues.fifo_by_server(w.arrivals_at, w.work_s, speeds, who)
    start = end - w.work_s / np.asarray(speeds)[who]
    lo, hi = 100.0, float(w.arrivals_at[-1])
    busy = np.bincount(who, weights=np.clip(end, lo, hi) - np.clip(start, lo, hi), minlength=8)
    np.testing.assert_array_equal(
        compiled.busy_by_server(end, w.work_s, speeds, who, lo, hi), busy)


def test_warm_up_loads_every_kernel():
    assert compiled.warm_up() >= 0.0


_CHILD = textwrap.dedent("""
    import json, sys
    {prelude}
    from scalekit import balancing, sim
    from scalekit.sim import compiled
    w = sim.Workload.poisson(5.4, sim.Exponential(1.0), n=5000, seed=2)
    r = sim.run(w, servers=6, policy=balancing.FewestConnections(), queue_limit=4, seed=3)
    print(json.dumps(dict(available=compiled.available(), mean=r.mean_s, p99=r.p99_s,
                          servers=r.server_of.tolist()[:500], cache={cache})))
""")


def _child(prelude: str = "", cache: str = "None", env: dict | None = None) -> dict:
    code = _CHILD.format(prelude=prelude, cache=cache)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={**os.environ, **(env or {}),
                                           "PYTHONPATH": str(ROOT)}, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _here() -> dict:
    w = sim.Workload.poisson(5.4, sim.Exponential(1.0), n=5000, seed=2)
    r = sim.run(w, servers=6, policy=balancing.FewestConnections(), queue_limit=4, seed=3)
    return dict(mean=r.mean_s, p99=r.p99_s, servers=r.server_of.tolist()[:500])


@pytest.mark.slow
def test_without_numba_the_python_path_gives_the_same_run():
    """A machine without numba (the import fails) runs the reference path and gets the same
    numbers; compiled=True there says numba is missing."""
    child = _child("sys.modules['numba'] = None  # as if not installed")
    assert child.pop("available") is False and child.pop("cache") is None
    assert child == _here()
    code = ("import sys; sys.modules['numba'] = None\n"
            "from scalekit import balancing, sim\n"
            "sim.run(sim.Workload([0.0], [1.0]), policy=balancing.RoundRobin(), compiled=True)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode != 0 and "needs numba" in run.stderr


@pytest.mark.slow
def test_with_no_writable_cache_the_kernels_compile_in_memory(tmp_path):
    """A read-only install and home: numba finds no cache location (a file stands where the
    package's __pycache__ would be, and the user cache directory cannot be made), so the
    kernels compile for the process instead — and give the same run."""
    pkg = tmp_path / "site"
    import shutil

    shutil.copytree(ROOT / "scalekit", pkg / "scalekit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "scalekit" / "sim" / "__pycache__").write_text("not a directory")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, so nothing can be made under it")
    code = _CHILD.format(prelude="", cache="type(compiled._kernels().dispatch._cache).__name__")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True, cwd=tmp_path,  # not this checkout's package
                         env={**os.environ, "PYTHONPATH": str(pkg),
                              "XDG_CACHE_HOME": str(blocked / "cache"),
                              "HOME": str(blocked / "home"), "NUMBA_CACHE_DIR": ""})
    child = json.loads(out.stdout.strip().splitlines()[-1])
    assert child.pop("available") is True
    assert child.pop("cache") == "NullCache"  # numba's "no caching" stand-in
    assert child == _here()


@pytest.mark.parametrize("call, exc, name", [
    (lambda: compiled.fifo_by_server(None, [1.0], [1.0], [0]), TypeError, "arrivals_at"),
    (lambda: compiled.fifo_by_server([0.0], [1.0, 2.0], [1.0], [0]), ValueError, "work_s"),
    (lambda: compiled.fifo_by_server([0.0], [1.0], [1.0], [0.5]), TypeError, "server_of"),
    (lambda: compiled.fifo_by_server([0.0], [1.0], [1.0], [1]), ValueError, "server_of"),
    (lambda: compiled.busy_by_server([1.0], [1.0], [1.0], [0], 2.0, 1.0), ValueError,
     "window_to"),
    (lambda: compiled.dispatch([0.0], [1.0], [1.0], "fewest", None), TypeError, "rule"),
    (lambda: compiled.dispatch([0.0], [1.0], [], sim.Rule("least_work"), None), ValueError,
     "speeds"),
    (lambda: compiled.dispatch([0.0], [1.0], [1.0], sim.Rule("least_work"), 0), ValueError,
     "queue_limit"),
])
def test_the_kernels_refuse_what_would_make_them_read_out_of_bounds(call, exc, name):
    """The compiled loops do not check indices as they run: their wrappers check shapes,
    types and server indices first, and say which argument is wrong."""
    with pytest.raises(exc, match=name):
        call()
