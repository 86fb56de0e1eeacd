"""One cluster, several balancer policies, the same requests: which policy wins, and why.

A *scenario* fixes everything but the policy — the servers and their speeds, the traffic, the
work each request carries — and :func:`compare_policies` runs every policy on exactly the
same arrivals with the same seed, so any difference between them is the policy's doing.

* ``spread`` makes the servers unequal: speeds run evenly from 1 − spread to 1 + spread
  (mean 1, so the cluster's capacity does not change) — old and new machines side by side.
* ``cost`` is the request-cost mix: ``"exponential"`` (the textbook), ``"deterministic"``
  (every request alike), ``"pareto"`` (heavy-tailed) or ``"reports"`` (1% of requests are
  reports 100× longer than a page view — one "connection" that is really a lot of work).

Units: seconds and requests per second; ``mean_work_s`` is a request's mean work on a
speed-1 server.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scalekit import _check, _html, sim
from scalekit.balancing.policies import (
    SEED_POLICIES,
    PowerOfTwoChoices,
    RandomChoice,
    WeightedRoundRobin,
    policy,
)
from scalekit.sim import Policy

__all__ = ["COST_MIXES", "spread_speeds", "Scenario", "scenario", "Comparison",
           "compare_policies", "supermarket_runs", "MAX_SCENARIO_REQUESTS",
           "MAX_SUPERMARKET_REQUESTS"]

COST_MIXES = ("exponential", "deterministic", "pareto", "reports")
MAX_SCENARIO_REQUESTS = 2_000_000
#: Most requests one :func:`supermarket_runs` call simulates, over all its runs: about 3 s
#: on the compiled path, about 30 s in pure Python.
MAX_SUPERMARKET_REQUESTS = 20_000_000


def spread_speeds(servers: int, spread: float) -> tuple[float, ...]:
    """``servers`` speeds evenly from 1 − spread to 1 + spread: mean 1, total = servers."""
    n = _check.integer("servers", servers, low=1, high=10_000)
    s = _check.number("spread", spread, low=0.0, high=1.0, high_open=True)
    if n == 1:
        return (1.0,)
    return tuple(float(v) for v in 1.0 + s * np.linspace(-1.0, 1.0, n))


@dataclass(frozen=True, eq=False)
class Scenario:
    """The cluster and its traffic: everything a policy comparison holds fixed."""

    workload: sim.Workload
    speeds: tuple[float, ...]
    load: float
    cost: str

    def __post_init__(self):
        _check.instance("workload", self.workload, sim.Workload)
        speeds = _check.array("speeds", self.speeds, low=0.0, low_open=True, min_len=1)
        object.__setattr__(self, "speeds", tuple(speeds.tolist()))
        _check.number("load", self.load, low=0.0, low_open=True, high=10.0)
        _check.choice("cost", self.cost, COST_MIXES)

    @property
    def servers(self) -> int:
        return len(self.speeds)


def scenario(*, servers: int = 8, load: float = 0.85, spread: float = 0.0,
             cost: str = "exponential", mean_work_s: float = 0.05, requests: int = 10_000,
             seed: int | None = 1) -> Scenario:
    """Poisson arrivals at ``load`` × the cluster's capacity (``load`` ≥ 1 is allowed and
    reported unstable: the run is bounded by ``requests``)."""
    speeds = spread_speeds(servers, spread)
    rho = _check.number("load", load, low=0.0, low_open=True, high=10.0)
    mix = _check.choice("cost", cost, COST_MIXES)
    n = _check.integer("requests", requests, low=1, high=MAX_SCENARIO_REQUESTS)
    service = sim.service_time(mix, _check.positive("mean_work_s", mean_work_s))
    rate = rho * sum(speeds) / service.mean_s
    return Scenario(sim.Workload.poisson(rate, service, n=n, seed=seed), speeds, rho, mix)


_new_scenario = scenario  # compare_policies has a parameter of the same name


def _policy_for(p, speeds) -> Policy:
    """A policy by name or instance; by name, weighted round robin weighs servers by speed
    (as an operator would set nginx's ``weight=``), to a tenth."""
    if isinstance(p, str) and p == WeightedRoundRobin.name:
        return WeightedRoundRobin([max(1, round(10 * s)) for s in speeds])
    if isinstance(p, str):
        return policy(p)
    if isinstance(p, Policy):
        return p
    raise TypeError(f"each policy must be a policy name or a Policy instance, got {p!r}")


@dataclass(frozen=True, eq=False)
class Comparison:
    """Every policy's :class:`scalekit.sim.Results` on one :class:`Scenario`, in order."""

    scenario: Scenario
    results: dict[str, sim.Results]

    def __getitem__(self, name: str) -> sim.Results:
        return self.results[name]

    @property
    def best(self) -> str:
        """The policy with the lowest 99th-percentile latency."""
        return min(self.results, key=lambda k: _nan_last(self.results[k].p99_s))

    def rows(self) -> list[dict]:
        return [{"policy": name, "mean (ms)": r.mean_s * 1e3, "p99 (ms)": r.p99_s * 1e3,
                 "busiest server": max(r.utilisation), "imbalance (max/mean)": r.imbalance,
                 "dropped": r.dropped}
                for name, r in self.results.items()]

    def __repr__(self) -> str:
        body = ", ".join(f"{k}: p99 {r.p99_s * 1e3:.0f} ms" for k, r in self.results.items())
        return f"Comparison({body})"

    def _repr_html_(self) -> str:
        note = ("unstable: offered load ≥ capacity — queues grow for as long as the run lasts"
                if self.scenario.load >= 1 else "")
        return _html.rows_table(self.rows(), note=note)


def _nan_last(x: float) -> float:
    return math.inf if math.isnan(x) else x


def compare_policies(policies: Sequence = SEED_POLICIES, *, scenario: Scenario | None = None,
                     seed: int | None = 1, **settings) -> Comparison:
    """Run each of ``policies`` (names or :class:`~scalekit.sim.Policy` instances) on one
    scenario — given, or built from ``settings`` by :func:`scenario` — with one seed."""
    if scenario is None:
        scenario = _new_scenario(seed=seed, **settings)
    elif settings:
        raise TypeError(f"give either scenario or its settings, not both: {sorted(settings)}")
    if not isinstance(scenario, Scenario):
        raise TypeError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    policies = _check.sequence("policies", policies, what="policy names or Policy instances",
                               max_len=100)
    if not policies:
        raise ValueError(f"policies must be a non-empty list of policy names or Policy "
                         f"instances, got {policies!r}")
    results = {}
    for p in policies:
        made = _policy_for(p, scenario.speeds)
        name = p if isinstance(p, str) else getattr(made, "name", type(made).__name__)
        if name in results and not isinstance(p, str):
            name = repr(made)  # two settings of one rule: PowerOfTwoChoices(choices=3)
        if name in results:
            raise ValueError(f"policies must be distinct, and {name!r} appears twice")
        results[name] = sim.run(scenario.workload, speeds=scenario.speeds, policy=made,
                                seed=seed)
    return Comparison(scenario, results)


def supermarket_runs(loads=(0.5, 0.8, 0.9, 0.95), choices=(1, 2), *, servers: int = 100,
                     requests: int = 100_000, seed: int | None = 1) -> dict[int, list]:
    """Simulated mean time in system (in service times: exponential work of mean 1) for
    each number of choices d and each load: {d: [(load, mean), ...]}, to set against
    :func:`scalekit.theory.supermarket_sojourn_s`. d = 1 is random choice; the first fifth
    of each run is warm-up, and every request after it is followed to its departure."""
    n = _check.integer("servers", servers, low=1, high=10_000)
    count = _check.integer("requests", requests, low=100, high=MAX_SCENARIO_REQUESTS)
    ds = [_check.integer("choices", d, low=1, high=64)
          for d in _check.sequence("choices", choices, what="choice counts", min_len=1,
                                   max_len=64)]
    rhos = [_check.number("loads", x, low=0.0, low_open=True, high=1.0, high_open=True)
            for x in _check.sequence("loads", loads, what="loads", min_len=1, max_len=100)]
    if not ds or not rhos:
        raise ValueError(f"loads and choices must each hold at least one value, got "
                         f"loads={list(loads)!r}, choices={list(choices)!r}")
    total = len(ds) * len(rhos) * count
    if total > MAX_SUPERMARKET_REQUESTS:  # each run is one Workload, but they add up
        raise ValueError(f"len(loads) × len(choices) × requests = {total:,} requests, more "
                         f"than the {MAX_SUPERMARKET_REQUESTS:,} one call allows; use fewer "
                         f"requests, loads or choices")
    out: dict[int, list] = {}
    for d in ds:
        for rho in rhos:
            w = sim.Workload.poisson(rho * n, sim.Exponential(1.0), n=count, seed=seed)
            p = RandomChoice() if d == 1 else PowerOfTwoChoices(d)
            r = sim.run(w, servers=n, policy=p, warmup_s=w.horizon_s * 0.2, seed=seed)
            out.setdefault(d, []).append((rho, r.mean_s))
    return out
