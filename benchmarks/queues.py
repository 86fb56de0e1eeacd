"""scalekit's cluster simulation vs an equivalent SimPy model, on the same workload.

Both simulators get the same arrival instants, the same work per request and — for random
dispatch and power of two choices — the same random draws; for fewest connections both
break ties the same way (rotating, as HAProxy's ``leastconn`` does). So their mean
latencies must agree to rounding; the benchmark checks they agree within 2% and prints the
speed ratio. SimPy is the standard process-based discrete-event library for Python
(simpy.readthedocs.io); its model here is the textbook one: one process per request, one
``Resource(capacity=1)`` per server.

scalekit runs its fast path (``compiled=True``: numba's compiled loop, or the closed form of
:func:`scalekit.sim.queues.fifo_by_server` compiled for static policies); the time to load
the compiled kernels (or compile them, the first time on a machine) is printed apart. With
``--python`` the pure-Python reference path is timed instead.
"""

from __future__ import annotations

import time

import numpy as np

from scalekit import balancing, sim
from scalekit.sim import compiled as compiled_path


def simpy_cluster(workload: sim.Workload, servers: int, policy: str, seed: int) -> float:
    """Mean time in system of ``workload`` on ``servers`` FIFO servers, in SimPy, with the
    balancer rule written again from its definition (not scalekit's code)."""
    import simpy

    env = simpy.Environment()
    pool = [simpy.Resource(env, capacity=1) for _ in range(servers)]
    total = [0.0]
    choose = _simpy_rule(policy, servers, len(workload), seed, pool)

    def request(at, work, server):
        with server.request() as req:
            yield req
            yield env.timeout(work)
        total[0] += env.now - at

    def source():
        arrivals = workload.arrivals_at.tolist()
        work = workload.work_s.tolist()
        for j, at in enumerate(arrivals):
            yield env.timeout(at - env.now)
            env.process(request(at, work[j], pool[choose(j)]))

    env.process(source())
    env.run()
    return total[0] / len(workload)


def _simpy_rule(policy: str, servers: int, requests: int, seed: int, pool):
    """The request → server rule for the SimPy model. Random draws come from the same
    generator, in the same order, as scalekit's policies draw them (rng(seed))."""
    def present(i):
        return pool[i].count + len(pool[i].queue)  # in service + queued

    if policy == "random":
        picks = sim.rng(seed).integers(0, servers, requests).tolist()
        return picks.__getitem__
    if policy == "round_robin":
        return lambda j: j % servers
    if policy == "power_of_two":
        draws = sim.rng(seed).integers(0, servers, (requests, 2)).tolist()

        def two(j):
            a, b = draws[j]
            return b if present(b) < present(a) else a  # ties to the first draw
        return two
    if policy == "fewest_connections":
        after = [0]  # ties go to the first server at or after this one (HAProxy leastconn)

        def fewest(j):
            counts = [present(i) for i in range(servers)]
            # min() keeps the first minimum in scan order, and the scan starts at the pointer.
            i = min(range(after[0], after[0] + servers), key=lambda k: counts[k % servers])
            i %= servers
            after[0] = i + 1
            return i
        return fewest
    raise ValueError(f"no SimPy model for policy {policy!r}")


def compare(requests: int, servers: int = 16, load: float = 0.9, policy: str = "random",
            seed: int = 1, compiled: bool = True) -> dict:
    """Time both on one workload. Both first run a small warm-up workload (imports, caches);
    scalekit's time is the median of 3 runs (it takes well under a second), SimPy's one run
    (it takes tens of seconds, so one run's noise is small in proportion). A run's time
    covers everything :func:`scalekit.sim.run` does: the policy's draws, the dispatch, and
    measuring the results (mean, percentiles, utilisation)."""
    warm = sim.Workload.poisson(load * servers, sim.Exponential(1.0), n=20_000, seed=seed)
    sim.run(warm, servers=servers, policy=balancing.policy(policy), seed=seed,
            compiled=compiled)
    simpy_cluster(warm, servers, policy, seed)
    workload = sim.Workload.poisson(load * servers, sim.Exponential(1.0), n=requests, seed=seed)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        ours = sim.run(workload, servers=servers, policy=balancing.policy(policy), seed=seed,
                       compiled=compiled)
        times.append(time.perf_counter() - t0)
    t_ours = sorted(times)[1]
    t0 = time.perf_counter()
    peer_mean = simpy_cluster(workload, servers, policy, seed)
    t_peer = time.perf_counter() - t0
    return {
        "policy": policy,
        "requests": requests,
        "scalekit_s": t_ours,
        "simpy_s": t_peer,
        "ratio": t_peer / t_ours,
        "scalekit_mean": float(np.mean(ours.departures_at - ours.arrivals_at)),
        "simpy_mean": peer_mean,
    }


#: The policies compared, with the speed-up each must reach on the fast path (issue 14): the
#: static ones in compiled closed form, the ones that read live state in the compiled loop.
POLICIES = {"random": 200, "round_robin": 200, "fewest_connections": 100, "power_of_two": 100}
#: The pure-Python reference path's targets (issue 3), for ``--python``.
PYTHON_TARGETS = {"random": 50, "round_robin": 50, "fewest_connections": 10, "power_of_two": 10}


def main(requests: int = 1_000_000, python: bool = False) -> list[dict]:
    rows = []
    compiled = not python
    targets = PYTHON_TARGETS if python else POLICIES
    path = "pure-Python reference path" if python else "fast path (numba)"
    if compiled:
        if not compiled_path.available():
            raise SystemExit("the fast path needs numba: pip install numba (or use --python)")
        print(f"Loading the compiled kernels (numba import + cache): "
              f"{compiled_path.warm_up():.2f} s")
    print(f"Cluster of 16 servers at load 0.9, {requests:,} requests, exponential work; "
          f"scalekit's {path}")
    print(f"{'policy':<20}{'scalekit s':>12}{'SimPy s':>10}{'speed-up':>10}{'target':>8}"
          f"{'mean (sk)':>12}{'mean (SimPy)':>14}{'diff':>8}")
    for policy in POLICIES:
        r = compare(requests, policy=policy, compiled=compiled)
        diff = abs(r["scalekit_mean"] - r["simpy_mean"]) / r["simpy_mean"]
        target = targets[policy]
        print(f"{policy:<20}{r['scalekit_s']:>12.3f}{r['simpy_s']:>10.2f}{r['ratio']:>9.0f}×"
              f"{'≥' + str(target) + '×':>8}{r['scalekit_mean']:>12.5f}{r['simpy_mean']:>14.5f}"
              f"{diff:>8.2%}", flush=True)
        if diff > 0.02:
            raise SystemExit(f"{policy}: mean latency differs from SimPy by {diff:.2%} (> 2%)")
        rows.append(r)
    return rows
