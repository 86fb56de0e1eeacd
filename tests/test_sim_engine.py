"""sim.run against queueing theory, a peer simulator (SimPy) and invariants.

Statistical checks compare the mean over seeded replications with the closed form and
allow Z = 4 standard errors; the error is estimated from the replications, so a correct
model fails one comparison with Student's t's chance beyond ±4: about 1 in 860 at the default
16 replications, 1 in 480 at 12, 1 in 320 at 10 (tests/_stats.py). Each also asserts the
standard error is small enough that a 5% modelling error would be caught.
Sources: Kleinrock, Queueing Systems vol. 1 (M/M/1, M/M/c Erlang C, M/G/1
Pollaczek–Khinchine, M/M/1/K).
"""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalekit import balancing, sim, theory

from _stats import Z, assert_matches, mean_over_seeds


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_mm1_mean_time_in_system(rho):
    """M/M/1: W = 1/(μ − λ)."""
    def one(seed):
        w = sim.Workload.poisson(rho, sim.Exponential(1.0), n=60_000, seed=seed)
        return sim.run(w, warmup_s=2000.0).mean_s
    assert_matches(*mean_over_seeds(one), theory.mm1_sojourn_s(rho, 1.0))


def test_mm1_p95_is_the_exponential_quantile():
    """M/M/1 time in system is exponential with rate μ − λ."""
    def one(seed):
        w = sim.Workload.poisson(0.7, sim.Exponential(1.0), n=60_000, seed=seed)
        return sim.run(w, warmup_s=1000.0).p95_s
    assert_matches(*mean_over_seeds(one), theory.mm1_quantile_s(0.7, 1.0, 0.95))


@pytest.mark.parametrize("servers,rho,wq", [(4, 0.8, 0.746), (16, 0.9, 0.370)])
def test_mmc_wait_matches_erlang_c(servers, rho, wq):
    """M/M/c: Wq = C(c, a)/(cμ − λ) (Kleinrock vol. 1 §3.5), the formula's values with μ = 1."""
    lam = rho * servers
    assert theory.mmc_wait_s(lam, 1.0, servers) == pytest.approx(wq, abs=5e-4)

    def one(seed):
        w = sim.Workload.poisson(lam, sim.Exponential(1.0), n=40_000, seed=seed)
        return sim.run(w, servers=servers, warmup_s=200.0).mean_s - 1.0
    mean, se = mean_over_seeds(one, reps=12)
    assert abs(mean - wq) <= Z * se and se < 0.05 * (wq + 1.0) / Z


@pytest.mark.parametrize("service", [sim.Deterministic(1.0), sim.Pareto(1.0, shape=5.0)])
def test_mg1_matches_pollaczek_khinchine(service):
    """M/G/1: W = ρE[S](1 + scv)/(2(1 − ρ)) + E[S]; deterministic (scv 0), Pareto (scv 5/3)."""
    def one(seed):
        w = sim.Workload.poisson(0.7, service, n=60_000, seed=seed)
        return sim.run(w, warmup_s=1000.0).mean_s
    assert_matches(*mean_over_seeds(one), theory.mg1_sojourn_s(0.7, 1.0, service.scv))


@pytest.mark.parametrize("rho,k", [(0.8, 3), (1.5, 5)])
def test_mm1k_drops_match_blocking_formula(rho, k):
    """M/M/1/K: a fraction P_K = (1 − ρ)ρ^K/(1 − ρ^(K+1)) of arrivals is dropped."""
    def one(seed):
        w = sim.Workload.poisson(rho, sim.Exponential(1.0), n=40_000, seed=seed)
        r = sim.run(w, policy=balancing.policy("random"), queue_limit=k, seed=seed)
        return r.dropped / r.arrived
    assert_matches(*mean_over_seeds(one, reps=10), theory.mm1k_blocking(rho, 1.0, k))


def test_utilisation_and_throughput_match_the_offered_load():
    """Utilisation of c servers is λ/(cμ); throughput is λ (nothing is dropped)."""
    runs = []

    def one(seed):
        r = sim.run(sim.Workload.poisson(2.4, sim.Exponential(1.0), n=20_000, seed=seed),
                    servers=4)
        runs.append(r)
        return float(np.mean(r.utilisation))
    assert_matches(*mean_over_seeds(one, reps=10), 0.6)
    assert runs[0].offered_load == pytest.approx(0.6)
    assert_matches(*sim.estimate([r.throughput_rps for r in runs]), 2.4)


def test_event_loop_equals_vectorised_path_for_a_static_policy():
    """RandomChoice pre-draws its picks, so loop and vector path choose the same servers and
    agree on every departure (to rounding: the cumulative-max form sums in another order)."""
    w = sim.Workload.poisson(7.0, sim.Exponential(1.0), n=20_000, seed=8)
    fast = sim.run(w, servers=8, policy=balancing.policy("random"), seed=9)

    class LoopedRandom(balancing.RandomChoice):
        def assign(self, n_requests, n_servers, gen):
            return None  # force the event loop

    slow = sim.run(w, servers=8, policy=LoopedRandom(), seed=9, compiled=False)
    np.testing.assert_array_equal(fast.server_of, slow.server_of)
    np.testing.assert_allclose(fast.departures_at, slow.departures_at, rtol=1e-12)


def test_fewest_connections_sees_live_counts():
    """With equal speeds and deterministic work, fewest connections never lets one server hold
    two more requests than another, so its wait beats random's."""
    w = sim.Workload.poisson(3.6, sim.Deterministic(1.0), n=20_000, seed=2)
    fc = sim.run(w, servers=4, policy=balancing.policy("fewest_connections"))
    rnd = sim.run(w, servers=4, policy=balancing.policy("random"), seed=2)
    t = np.linspace(0, w.horizon_s, 4000)
    per = np.array([fc.in_system_at(t, server=i) for i in range(4)])
    assert (per.max(axis=0) - per.min(axis=0)).max() <= 2
    assert fc.mean_s < rnd.mean_s


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.1, 5.0),
    n=st.integers(1, 300),
    servers=st.integers(1, 5),
    policy=st.sampled_from(["shared", *balancing.POLICIES]),
    limit=st.one_of(st.none(), st.integers(1, 4)),
    horizon_frac=st.floats(0.1, 1.0),
    seed=st.integers(0, 2**32),
)
def test_no_request_is_lost(rate, n, servers, policy, limit, horizon_frac, seed):
    """arrived = completed + in system + dropped, at any horizon, for every policy."""
    base = sim.Workload.poisson(rate, sim.Exponential(1.0), n=n, seed=seed)
    w = sim.Workload(base.arrivals_at, base.work_s, horizon_s=base.horizon_s * horizon_frac)
    chosen = policy if policy == "shared" else balancing.policy(policy)
    r = sim.run(w, servers=servers, policy=chosen, queue_limit=limit, seed=seed)
    assert r.arrived == r.completed + r.in_system + r.dropped
    assert r.arrived == int((w.arrivals_at <= w.horizon_s).sum())
    assert min(r.in_system, r.dropped, r.completed) >= 0
    for i in range(servers):
        mine = (r.server_of == i) & ~np.isnan(r.departures_at)
        assert np.all(np.diff(r.departures_at[mine]) >= -1e-9)  # each server is FIFO
    assert all(0.0 <= u <= 1.0 + 1e-9 for u in r.utilisation)


def test_same_seed_same_result_different_seed_different():
    def go(seed):
        w = sim.Workload.poisson(0.9, sim.Pareto(1.0), n=5000, seed=seed)
        return sim.run(w, servers=3, policy=balancing.policy("random"), seed=seed).departures_at
    np.testing.assert_array_equal(go(11), go(11))
    assert not np.array_equal(go(11), go(12))


def test_unstable_load_is_flagged_and_bounded():
    w = sim.Workload.poisson(2.0, sim.Exponential(1.0), n=50_000, seed=1)
    r = sim.run(w)
    assert r.unstable and r.offered_load == pytest.approx(2.0)
    assert r.in_system > 10_000  # the queue grew without bound
    assert "unstable" in r._repr_html_()
    assert not sim.run(sim.Workload.poisson(0.5, sim.Exponential(1.0), n=100, seed=1)).unstable



# ------------------------------------------------------------------ bad input


def workload():
    return sim.Workload.poisson(1.0, sim.Exponential(1.0), n=10, seed=1)


@pytest.mark.parametrize("call,exc,name", [
    (lambda: sim.run("w"), TypeError, "workload"),
    (lambda: sim.run(workload(), servers=0), ValueError, "servers"),
    (lambda: sim.run(workload(), servers=True), TypeError, "servers"),
    (lambda: sim.run(workload(), speeds=[1.0, 0.0]), ValueError, "speeds"),
    (lambda: sim.run(workload(), speeds=[1.0, float("nan")]), ValueError, "speeds"),
    (lambda: sim.run(workload(), policy="least_busy"), TypeError, "balancing.policy"),
    (lambda: balancing.policy("least_busy"), ValueError, "policy"),
    (lambda: sim.run(workload(), policy=3), TypeError, "policy"),
    (lambda: sim.run(workload(), queue_limit=0), ValueError, "queue_limit"),
    (lambda: sim.run(workload(), warmup_s=-1), ValueError, "warmup_s"),
    (lambda: sim.run(workload(), warmup_s=1e9), ValueError, "warmup_s"),
])
def test_bad_input_is_refused_clearly(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


# ------------------------------------------------------------------ layering


def test_sim_imports_no_topic():
    """sim is the bottom layer (DESIGN.md: sim and theory at the bottom, topics above): a
    fresh interpreter that imports it — and runs it — has loaded no topic package."""
    import subprocess
    import sys

    code = ("import sys; from scalekit import sim\n"
            "sim.run(sim.Workload([0.0, 1.0], [1.0, 1.0]), servers=2)\n"
            "print(sorted(m for m in sys.modules if m.startswith('scalekit.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    loaded = eval(out)  # a list of module names
    assert all(m.startswith(("scalekit.sim", "scalekit._")) for m in loaded), loaded


def test_the_package_has_no_import_cycle():
    """Every ``import`` in scalekit — at module level or inside a function — as an edge from
    module to module (importing a.b.c runs a and a.b too); the graph has no strongly
    connected component of more than one module (Tarjan's algorithm)."""
    import ast
    from pathlib import Path

    root = Path(sim.__file__).resolve().parents[1]
    files = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def known(name):
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name

    graph = {m: set() for m in files}
    for m, path in files.items():
        package = m if path.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                target = known(name)
                parts = target.split(".")
                for i in range(2, len(parts) + 1):  # the module and the packages above it
                    up = ".".join(parts[:i])
                    if up in files and up != m and not m.startswith(up + "."):
                        graph[m].add(up)
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert sum(map(len, graph.values())) > 200  # the graph was really built
    assert cycles == []
