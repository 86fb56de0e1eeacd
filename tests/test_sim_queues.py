"""FIFO queues (scalekit.sim.queues): the vectorised Lindley recursion against the recursion
itself and against a peer simulator (SimPy), and the shared queue's system-wide limit.

Sources: Lindley 1952 (D_n = max(A_n, D_{n−1}) + S_n); Kleinrock, Queueing Systems vol. 1
(M/M/c/K: the limit counts every request in the system, queued or in service).
"""


import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalekit import sim

from _stats import assert_matches, mean_over_seeds


def naive_fifo(a, s):
    out, prev = [], 0.0
    for ai, si in zip(a, s, strict=True):
        prev = max(ai, prev) + si
        out.append(prev)
    return np.array(out)


@given(
    st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=60),
    st.lists(st.floats(0, 10, allow_nan=False), min_size=60, max_size=60),
)
def test_vectorised_lindley_equals_the_recursion(gaps, services):
    a = np.cumsum(gaps)
    s = np.array(services[: a.size])
    d = sim.fifo_departures(a, s)
    np.testing.assert_allclose(d, naive_fifo(a, s), rtol=1e-12, atol=1e-9)
    # FIFO: departures never decrease, and nobody leaves before arriving and being served.
    assert np.all(np.diff(d) >= -1e-9)
    assert np.all(d >= a + s - 1e-9)


def test_same_arrays_through_simpy_give_the_same_departures():
    simpy = pytest.importorskip("simpy")
    w = sim.Workload.poisson(0.9, sim.Exponential(1.0), n=3000, seed=3)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    done = np.empty(len(w))

    def request(j, at, work):
        yield env.timeout(at - env.now)
        with server.request() as req:
            yield req
            yield env.timeout(work)
        done[j] = env.now

    def source():
        for j, (at, work) in enumerate(zip(w.arrivals_at, w.work_s, strict=True)):
            yield env.timeout(at - env.now)
            env.process(request(j, at, work))

    env.process(source())
    env.run()
    ours = sim.run(w).departures_at
    np.testing.assert_allclose(ours, done, rtol=1e-9)


def test_shared_queue_limit_counts_the_whole_cluster():
    """M/M/c/K with K = c is Erlang's loss system: no queue, dropped = Erlang B."""
    a, c = 3.0, 4
    b = 1.0
    for i in range(1, c + 1):
        b = a * b / (i + a * b)

    def one(seed):
        w = sim.Workload.poisson(a, sim.Exponential(1.0), n=40_000, seed=seed)
        r = sim.run(w, servers=c, queue_limit=c)
        return r.dropped / r.arrived
    assert_matches(*mean_over_seeds(one, reps=10), b)



# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("call,exc,name", [
    (lambda: sim.fifo_departures([1.0, float("nan")], [1.0, 1.0]), ValueError, "arrivals_at"),
    (lambda: sim.fifo_departures([0.0, 1.0], [-5.0, 1.0]), ValueError, "service_s"),
    (lambda: sim.fifo_departures([2.0, 1.0], [1.0, 1.0]), ValueError, "sorted"),
    (lambda: sim.fifo_departures(None, [1.0]), TypeError, "arrivals_at"),
    (lambda: sim.fifo_departures(["0", "1"], [1.0, 1.0]), TypeError, "arrivals_at"),
    (lambda: sim.fifo_departures([True, False], [1.0, 1.0]), TypeError, "arrivals_at"),
])
def test_bad_input_is_refused_clearly(call, exc, name):
    with pytest.raises(exc, match=name):
        call()
