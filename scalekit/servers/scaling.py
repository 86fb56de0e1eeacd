"""Vertical vs horizontal scaling: one bigger server, or more servers?

* **Vertical**: one server k times faster. Every request is served k× faster, and no request
  ever waits behind an idle server — but a machine can only be built so big, and the biggest
  cost more than linearly (:class:`CostModel`).
* **Horizontal**: k servers. Behind one shared queue (a worker pool) they come close to the
  big server; fed at random, each is its own M/M/1 queue and a request may wait at a busy
  server while another one idles.
* Adding nodes does not add capacity forever. Gunther's **Universal Scalability Law** (USL)
  C(N) = N/(1 + σ(N−1) + κN(N−1)) charges each node for contention (σ: waiting for a shared
  resource, a lock, the database) and for coherency (κ: every node agreeing with every other).
  With κ > 0 capacity peaks at N* = sqrt((1−σ)/κ) and then falls.

Rates in requests per second, times in seconds, prices in currency units per hour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scalekit import _check, _html, sim, theory

__all__ = [
    "ScalingComparison",
    "compare_scaling",
    "fit_usl",
    "UslFit",
    "CostModel",
    "FleetPlan",
]


@dataclass(frozen=True)
class ScalingComparison:
    """Mean time in system for the three ways of getting k× capacity, simulated and exact."""

    factor: int
    load: float
    vertical: sim.Results
    shared_queue: sim.Results
    random_dispatch: sim.Results
    theory_vertical_s: float
    theory_shared_queue_s: float
    theory_random_dispatch_s: float

    def rows(self) -> list[tuple[str, float, float]]:
        """(design, simulated mean s, theory mean s) for each design."""
        return [
            (f"one {self.factor}× server", self.vertical.mean_s, self.theory_vertical_s),
            (f"{self.factor} servers, shared queue", self.shared_queue.mean_s,
             self.theory_shared_queue_s),
            (f"{self.factor} servers, random", self.random_dispatch.mean_s,
             self.theory_random_dispatch_s),
        ]

    def _repr_html_(self) -> str:
        return _html.rows_table(self.rows(), ("design", "simulated mean (s)", "theory (s)"),
                                f"load ρ = {self.load:.2f} on every design")


def compare_scaling(
    factor: int,
    load: float,
    *,
    mean_service_s: float = 1.0,
    requests: int = 100_000,
    seed: int | None = None,
) -> ScalingComparison:
    """Serve the same Poisson workload (exponential work) three ways at utilisation ``load``:
    one server ``factor``× faster (M/M/1 at kμ), ``factor`` servers sharing one queue
    (M/M/k) and ``factor`` servers chosen at random (k independent M/M/1 at μ)."""
    k = _check.integer("factor", factor, low=1, high=1000)
    rho = _check.number("load", load, low=0.0, high=1.0, low_open=True, high_open=True)
    s = _check.positive("mean_service_s", mean_service_s)
    n = _check.integer("requests", requests, low=100, high=sim.MAX_REQUESTS)
    mu = 1.0 / s
    lam = rho * k * mu
    workload = sim.Workload.poisson(lam, sim.Exponential(s), n=n, seed=seed)
    return ScalingComparison(
        factor=k,
        load=rho,
        vertical=sim.run(workload, speeds=[float(k)]),
        shared_queue=sim.run(workload, servers=k),
        random_dispatch=sim.run(workload, servers=k, policy=_at_random(n, k, seed)),
        theory_vertical_s=theory.mm1_sojourn_s(lam, k * mu),
        theory_shared_queue_s=theory.mmc_sojourn_s(lam, mu, k),
        theory_random_dispatch_s=theory.mm1_sojourn_s(lam / k, mu),
    )


def _at_random(requests: int, servers: int, seed: int | None) -> sim.Policy:
    """Each request to one of ``servers`` drawn uniformly at random (from ``seed``): the
    k independent M/M/1 queues of random dispatch."""
    return sim.Assigned(sim.rng(seed).integers(0, servers, requests), name="random")


@dataclass(frozen=True)
class UslFit:
    """USL parameters fitted to measured throughput: X(N) = λ·N/(1 + σ(N−1) + κN(N−1))."""

    sigma: float
    kappa: float
    single_node_rps: float

    def __post_init__(self):
        _check.probability("sigma", self.sigma)
        _check.non_negative("kappa", self.kappa)
        _check.positive("single_node_rps", self.single_node_rps)

    @property
    def peak_nodes(self) -> float:
        return theory.usl_peak(self.sigma, self.kappa)

    def throughput_rps(self, nodes) -> np.ndarray:
        n = (_check.number("nodes", nodes, low=1.0) if isinstance(nodes, int | float | np.number)
             else _check.array("nodes", nodes, low=1.0))
        return self.single_node_rps * n / (
            1 + self.sigma * (n - 1) + self.kappa * n * (n - 1))


def fit_usl(nodes: Sequence[float], throughput_rps: Sequence[float]) -> UslFit:
    """Fit σ and κ to throughput measured at several node counts (one must be N = 1).

    Gunther's linearisation: with C = X(N)/X(1), N/C − 1 = σ(N − 1) + κN(N − 1), a
    least-squares line through the origin in (N − 1, N(N − 1)), constrained to the ranges
    the law allows, 0 <= σ <= 1 and κ >= 0. When the free fit leaves those ranges, the best
    fit lies on their edge, so the other parameter is fitted again with the first held
    there (σ alone with κ = 0, κ alone with σ = 0 or σ = 1) — merely clipping the free fit
    would keep a σ or κ that was compensating for the clipped one. The fit with the smallest
    squared error in the linearised form is returned.
    """
    n = _check.array("nodes", nodes, low=1.0, min_len=3)
    x = _check.array("throughput_rps", throughput_rps, low=0.0, low_open=True, min_len=3)
    if n.size != x.size:
        raise ValueError(f"nodes and throughput_rps differ in length: {n.size} vs {x.size}")
    ones = np.flatnonzero(n == 1.0)
    if ones.size == 0:
        raise ValueError("nodes must include a measurement at 1 node (the baseline)")
    x1 = float(x[ones].mean())
    others = n != 1.0
    if np.unique(n[others]).size < 2:
        raise ValueError("nodes must include at least two distinct counts above 1")
    y = n[others] / (x[others] / x1) - 1.0
    design = np.column_stack([n[others] - 1.0, n[others] * (n[others] - 1.0)])
    sigma, kappa = _fit_usl_constrained(design, y)
    return UslFit(sigma, kappa, x1)


def _fit_usl_constrained(design: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least squares of y ≈ σ·design[:, 0] + κ·design[:, 1] over 0 <= σ <= 1, κ >= 0.

    The squared error is convex, so its minimum over the box is either the free minimum
    (if inside) or the best of the one-parameter minima along the edges σ = 0, κ = 0 and
    σ = 1, each clipped to its edge.
    """
    (sigma, kappa), *_ = np.linalg.lstsq(design, y, rcond=None)
    if 0.0 <= sigma <= 1.0 and kappa >= 0.0:
        return float(sigma), float(kappa)
    u, v = design[:, 0], design[:, 1]

    def along(col: np.ndarray, rest: np.ndarray) -> float:  # 1-D fit through the origin
        return float(col @ rest / (col @ col))

    candidates = [
        (float(np.clip(along(u, y), 0.0, 1.0)), 0.0),  # κ = 0: Amdahl's law
        (0.0, max(along(v, y), 0.0)),  # σ = 0
        (1.0, max(along(v, y - u), 0.0)),  # σ = 1
    ]
    errors = [float(np.sum((y - s * u - k * v) ** 2)) for s, k in candidates]
    return candidates[int(np.argmin(errors))]


@dataclass(frozen=True)
class FleetPlan:
    """Servers to buy to carry a demand: how many, how big, what they carry and cost."""

    design: str
    servers: int
    cores_each: int
    capacity_rps: float
    cost_per_hour: float
    feasible: bool
    reason: str = ""


@dataclass(frozen=True)
class CostModel:
    """What machines cost and carry.

    A machine with c cores costs ``price_per_core_hour`` × c^``price_exponent`` per hour
    (exponent > 1: the biggest machines cost more per core — scale-up hardware is a premium
    product) and exists only up to ``max_cores``. Within a machine, cores scale by the USL
    with ``core_sigma``/``core_kappa``; across machines, nodes scale by the USL with
    ``node_sigma``/``node_kappa`` (the shared database, the balancer). One core carries
    ``rps_per_core`` requests/s at the target utilisation.
    """

    rps_per_core: float = 100.0
    price_per_core_hour: float = 0.05
    price_exponent: float = 1.3
    max_cores: int = 64
    core_sigma: float = 0.02
    core_kappa: float = 0.0
    node_sigma: float = 0.01
    node_kappa: float = 0.0001

    def __post_init__(self):
        _check.positive("rps_per_core", self.rps_per_core)
        _check.positive("price_per_core_hour", self.price_per_core_hour)
        _check.number("price_exponent", self.price_exponent, low=1.0, high=3.0)
        _check.integer("max_cores", self.max_cores, low=1, high=4096)
        for name in ("core_sigma", "node_sigma"):
            _check.probability(name, getattr(self, name))
        for name in ("core_kappa", "node_kappa"):
            _check.non_negative(name, getattr(self, name))

    def machine_rps(self, cores: int) -> float:
        """Requests/s one machine of ``cores`` cores carries."""
        c = _check.integer("cores", cores, low=1)
        return self.rps_per_core * theory.usl_capacity(c, self.core_sigma, self.core_kappa)

    def machine_price(self, cores: int) -> float:
        c = _check.integer("cores", cores, low=1)
        return self.price_per_core_hour * c**self.price_exponent

    def vertical(self, demand_rps: float) -> FleetPlan:
        """The smallest single machine that carries ``demand_rps`` — if one exists.

        If none does, the plan is the machine that carries the most, and the reason says
        so. With ``core_kappa`` > 0 that need not be the largest: past the USL peak, more
        cores carry less.
        """
        demand = _check.positive("demand_rps", demand_rps)
        best_cores, best_rps = 1, 0.0
        for cores in range(1, self.max_cores + 1):
            rps = self.machine_rps(cores)
            if rps >= demand:
                return FleetPlan("vertical", 1, cores, rps, self.machine_price(cores), True)
            if rps > best_rps:
                best_cores, best_rps = cores, rps
        if best_cores == self.max_cores:
            reason = (f"the largest machine ({self.max_cores} cores) carries only "
                      f"{best_rps:.4g} req/s")
        else:
            reason = (f"no machine up to {self.max_cores} cores carries {demand:.4g} req/s; "
                      f"the most is {best_rps:.4g} req/s, by a {best_cores}-core machine — "
                      "more cores carry no more (the USL peak)")
        return FleetPlan("vertical", 1, best_cores, best_rps, self.machine_price(best_cores),
                         False, reason)

    def horizontal(self, demand_rps: float, cores_each: int = 2, max_servers: int = 10_000
                   ) -> FleetPlan:
        """The fewest machines of ``cores_each`` cores that carry ``demand_rps`` together.

        The search stops at ``max_servers`` machines or at the USL peak, past which more
        machines carry less; an infeasible plan's reason names which limit it hit.
        """
        demand = _check.positive("demand_rps", demand_rps)
        c = _check.integer("cores_each", cores_each, low=1, high=self.max_cores)
        limit = _check.integer("max_servers", max_servers, low=1, high=1_000_000)
        per = self.machine_rps(c)
        best = 0.0
        for n in range(1, limit + 1):
            cap = per * theory.usl_capacity(n, self.node_sigma, self.node_kappa)
            if cap >= demand:
                return FleetPlan("horizontal", n, c, cap, n * self.machine_price(c), True)
            if cap < best:  # past the USL peak: more nodes only lose capacity
                peak = f"{n - 1} machine{'s' if n > 2 else ''}"
                reason = (f"no number of {c}-core machines carries {demand:.4g} req/s; the "
                          f"most is {best:.4g} req/s, by {peak} — more machines carry less "
                          "(the USL peak)")
                break
            best = cap
        else:
            reason = (f"{limit} {c}-core machines carry only {best:.4g} req/s, short of "
                      f"{demand:.4g} req/s; the limit was max_servers={limit}, not the USL peak")
        return FleetPlan("horizontal", 0, c, best, math.inf, False, reason)
