"""scalekit's cluster simulation vs an equivalent SimPy model, on the same workload.

Both simulators get the same arrival instants, the same work per request and — for random
dispatch — the same server picks; for fewest connections both break ties the same way
(rotating, as HAProxy's ``leastconn`` does). So their mean latencies must agree to rounding; the
benchmark checks they agree within 2% and prints the speed ratio. SimPy is the standard
process-based discrete-event library for Python (simpy.readthedocs.io); its model here is
the textbook one: one process per request, one ``Resource(capacity=1)`` per server.
"""

from __future__ import annotations

import time

import numpy as np

from scalekit import sim


def simpy_cluster(workload: sim.Workload, servers: int, policy: str, picks=None) -> float:
    """Mean time in system of ``workload`` on ``servers`` FIFO servers, in SimPy."""
    import simpy

    env = simpy.Environment()
    pool = [simpy.Resource(env, capacity=1) for _ in range(servers)]
    total = [0.0]
    after = [0]  # fewest connections: ties go to the first server at or after this one

    def fewest():
        """Fewest in service + queued; ties rotate (HAProxy leastconn), like scalekit's."""
        counts = [r.count + len(r.queue) for r in pool]
        # min() keeps the first minimum in scan order, and the scan starts at the pointer.
        i = min(range(after[0], after[0] + servers), key=lambda k: counts[k % servers])
        i %= servers
        after[0] = i + 1
        return i

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
            if policy == "random":
                server = pool[picks[j]]
            else:
                server = pool[fewest()]
            env.process(request(at, work[j], server))

    env.process(source())
    env.run()
    return total[0] / len(workload)


def compare(requests: int, servers: int = 16, load: float = 0.9, policy: str = "random",
            seed: int = 1) -> dict:
    """Time both on one workload. Both first run a small warm-up workload (imports, caches);
    scalekit's time is the median of 3 runs (it takes well under a second), SimPy's one run
    (it takes tens of seconds, so one run's noise is small in proportion)."""
    warm = sim.Workload.poisson(load * servers, sim.Exponential(1.0), n=20_000, seed=seed)
    sim.run(warm, servers=servers, policy=policy, seed=seed)
    simpy_cluster(warm, servers, policy, sim.rng(seed).integers(0, servers, 20_000).tolist())
    workload = sim.Workload.poisson(load * servers, sim.Exponential(1.0), n=requests, seed=seed)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        ours = sim.run(workload, servers=servers, policy=policy, seed=seed)
        times.append(time.perf_counter() - t0)
    t_ours = sorted(times)[1]
    # RandomChoice draws its picks from rng(seed) exactly like this.
    picks = sim.rng(seed).integers(0, servers, requests).tolist()
    t0 = time.perf_counter()
    peer_mean = simpy_cluster(workload, servers, policy, picks)
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


def main(requests: int = 1_000_000) -> list[dict]:
    rows = []
    print(f"Cluster of 16 servers at load 0.9, {requests:,} requests, exponential work")
    print(f"{'policy':<20}{'scalekit s':>12}{'SimPy s':>10}{'speed-up':>10}"
          f"{'mean (sk)':>12}{'mean (SimPy)':>14}{'diff':>8}")
    for policy in ("random", "fewest_connections"):
        r = compare(requests, policy=policy)
        diff = abs(r["scalekit_mean"] - r["simpy_mean"]) / r["simpy_mean"]
        print(f"{policy:<20}{r['scalekit_s']:>12.3f}{r['simpy_s']:>10.2f}{r['ratio']:>9.0f}×"
              f"{r['scalekit_mean']:>12.5f}{r['simpy_mean']:>14.5f}{diff:>8.2%}", flush=True)
        if diff > 0.02:
            raise SystemExit(f"{policy}: mean latency differs from SimPy by {diff:.2%} (> 2%)")
        rows.append(r)
    return rows
