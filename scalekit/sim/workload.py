"""What arrives: requests, and the work each one carries.

Arrivals are Poisson at a constant rate or follow a :class:`TrafficTrace` (by thinning);
the work per request is drawn from a :class:`ServiceTime`, in seconds on a speed-1 server.
Units: seconds and requests per second. Everything random takes ``seed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scalekit import _check

#: Upper bound on requests in one run: keeps memory bounded and nothing hangs.
MAX_REQUESTS = 5_000_000
#: Most points one TrafficTrace.daily samples (days × 86,400 / step_s).
MAX_TRACE_POINTS = 1_000_000


def rng(seed: int | None = None) -> np.random.Generator:
    """A numpy random generator (PCG64) from ``seed`` (None: fresh entropy)."""
    return np.random.default_rng(_check.seed(seed))


# --------------------------------------------------------------------------- service times


class ServiceTime:
    """A distribution of work per request, in seconds on a speed-1 server.

    A variant overrides one hook, :meth:`sample`; ``mean_s`` and ``scv`` (squared
    coefficient of variation, Var/mean²) are what queueing formulas need.
    """

    name = "service time"
    scv = math.nan

    def __init__(self, mean_s: float):
        self.mean_s = _check.positive("mean_s", mean_s)

    def sample(self, n: int, gen: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean_s={self.mean_s:g})"


class Exponential(ServiceTime):
    """Exponential work (memoryless): the M in M/M/1. scv = 1."""

    name = "exponential"
    scv = 1.0

    def sample(self, n, gen):
        n, gen = _draws(n, gen)
        return gen.exponential(self.mean_s, n)


class Deterministic(ServiceTime):
    """Every request takes exactly ``mean_s``: the D in M/D/1. scv = 0."""

    name = "deterministic"
    scv = 0.0

    def sample(self, n, gen):
        n, gen = _draws(n, gen)
        return np.full(n, self.mean_s)


class Pareto(ServiceTime):
    """Heavy-tailed work: Pareto type II (Lomax) with tail index ``shape`` > 1.

    Most requests are short and a few are very long (a report, an export), as measured for
    web and file sizes. P(S > x) falls as x^(−shape); the variance is finite only for
    shape > 2, where scv = shape/(shape − 2). The default 2.5 gives scv = 5.
    """

    name = "pareto"

    def __init__(self, mean_s: float, shape: float = 2.5):
        super().__init__(mean_s)
        self.shape = _check.number("shape", shape, low=1.0, low_open=True)
        self.scale_s = self.mean_s * (self.shape - 1.0)
        self.scv = self.shape / (self.shape - 2.0) if self.shape > 2.0 else math.inf

    def sample(self, n, gen):
        n, gen = _draws(n, gen)
        return self.scale_s * gen.pareto(self.shape, n)

    def __repr__(self) -> str:
        return f"Pareto(mean_s={self.mean_s:g}, shape={self.shape:g})"


class Reports(ServiceTime):
    """Page views with the odd long report: a share ``report_share`` of the requests are
    ``report_factor`` times longer on average than the rest (both exponential), the overall
    mean being ``mean_s``.

    What "one connection" hides: to a balancer counting connections, a report and a page view
    look the same. The default — 1% of requests 100× longer — gives scv ≈ 50: half the work
    is reports.
    """

    name = "reports"

    def __init__(self, mean_s: float, report_share: float = 0.01, report_factor: float = 100.0):
        super().__init__(mean_s)
        p = self.report_share = _check.number("report_share", report_share, low=0.0, high=1.0,
                                              high_open=True)
        f = self.report_factor = _check.number("report_factor", report_factor, low=1.0,
                                               high=1e6)
        self.page_s = self.mean_s / (1.0 - p + p * f)
        self.report_s = self.page_s * f
        second = (1.0 - p) * 2 * self.page_s**2 + p * 2 * self.report_s**2
        self.scv = second / self.mean_s**2 - 1.0

    def sample(self, n, gen):
        n, gen = _draws(n, gen)
        long = gen.random(n) < self.report_share
        return gen.exponential(1.0, n) * np.where(long, self.report_s, self.page_s)

    def __repr__(self) -> str:
        return (f"Reports(mean_s={self.mean_s:g}, report_share={self.report_share:g}, "
                f"report_factor={self.report_factor:g})")


def _draws(n, gen) -> tuple[int, np.random.Generator]:
    """What :meth:`ServiceTime.sample` takes: a count up to :data:`MAX_REQUESTS` and a numpy
    random generator."""
    if not isinstance(gen, np.random.Generator):
        raise TypeError(f"gen must be a numpy random Generator (scalekit.sim.rng(seed)), "
                        f"got {gen!r}")
    return _check.integer("n", n, low=0, high=MAX_REQUESTS), gen


_SERVICE_TIMES = {cls.name: cls for cls in (Exponential, Deterministic, Pareto, Reports)}
#: The names :func:`service_time` knows.
SERVICE_TIMES = tuple(_SERVICE_TIMES)


def service_time(name: str, mean_s: float) -> ServiceTime:
    """A service-time distribution by name: 'exponential', 'deterministic', 'pareto' or
    'reports'."""
    return _SERVICE_TIMES[_check.choice("name", name, _SERVICE_TIMES)](mean_s)


def _service(value) -> ServiceTime:
    if isinstance(value, ServiceTime):
        return value
    raise TypeError(
        f"service must be a ServiceTime such as Exponential(mean_s=0.01), got {value!r}"
    )


# --------------------------------------------------------------------------- arrivals


@dataclass(frozen=True, eq=False)
class TrafficTrace:
    """Offered traffic over time: a rate in requests/s, linear between the given points.

    ``times_s`` must start at 0 and increase; ``rates_rps`` are >= 0 with at least one > 0.
    """

    times_s: np.ndarray
    rates_rps: np.ndarray

    def __post_init__(self):
        t = _check.array("times_s", self.times_s, low=0.0, min_len=2, sorted_=True)
        r = _check.array("rates_rps", self.rates_rps, low=0.0, min_len=2)
        if t.size != r.size:
            raise ValueError(f"times_s and rates_rps differ in length: {t.size} vs {r.size}")
        if t[0] != 0.0:
            raise ValueError(f"times_s must start at 0, got {t[0]!r}")
        if np.any(np.diff(t) == 0):
            raise ValueError("times_s must be strictly increasing")
        if not r.max() > 0:
            raise ValueError("rates_rps must have at least one rate > 0")
        for name, value in (("times_s", t), ("rates_rps", r)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    @property
    def duration_s(self) -> float:
        return float(self.times_s[-1])

    @property
    def peak_rps(self) -> float:
        return float(self.rates_rps.max())

    def rate_at(self, t_s) -> np.ndarray:
        """The offered rate at instants ``t_s`` (requests/s): one instant or a sequence."""
        t_s = (_check.non_negative("t_s", t_s) if isinstance(t_s, int | float | np.number)
               else _check.array("t_s", t_s, low=0.0))
        return np.interp(t_s, self.times_s, self.rates_rps)

    def expected_requests(self) -> float:
        """∫ rate dt over the trace: the expected number of arrivals."""
        return float(np.trapezoid(self.rates_rps, self.times_s))

    @classmethod
    def daily(
        cls,
        *,
        base_rps: float,
        peak_rps: float,
        days: float = 1.0,
        peak_hour: float = 14.0,
        spike_at_s: float | None = None,
        spike_rps: float = 0.0,
        spike_s: float = 600.0,
        step_s: float = 60.0,
    ) -> TrafficTrace:
        """A daily cycle (a cosine from ``base_rps`` at night to ``peak_rps`` at
        ``peak_hour``), plus an optional flash-crowd spike adding ``spike_rps`` for
        ``spike_s`` seconds from ``spike_at_s``. Sampled every ``step_s`` seconds."""
        base = _check.non_negative("base_rps", base_rps)
        peak = _check.positive("peak_rps", peak_rps)
        if peak < base:
            raise ValueError(f"peak_rps ({peak:g}) must be >= base_rps ({base:g})")
        days = _check.positive("days", days)
        hour = _check.number("peak_hour", peak_hour, low=0.0, high=24.0)
        step = _check.positive("step_s", step_s)
        duration = days * 86_400.0
        if step >= duration:
            raise ValueError(f"step_s ({step:g}) must be shorter than the trace ({duration:g} s)")
        if duration / step > MAX_TRACE_POINTS:
            raise ValueError(f"days × 86,400 / step_s = {duration / step:.3g} trace points, more "
                             f"than the {MAX_TRACE_POINTS:,} one trace allows; fewer days or "
                             f"a longer step_s")
        # Instants by index, not np.arange's accumulated float: arange can round its last
        # instant up to ``duration`` itself, which would repeat the closing point.
        t = step * np.arange(math.ceil(duration / step))
        t = np.append(t[t < duration], duration)  # the trace always ends at days × 86,400 s
        phase = 2 * np.pi * (t / 86_400.0 - hour / 24.0)
        rate = base + (peak - base) * 0.5 * (1.0 + np.cos(phase))
        if spike_at_s is None and spike_rps:
            raise ValueError("spike_rps needs spike_at_s: when does the spike start?")
        if spike_at_s is not None:
            at = _check.number("spike_at_s", spike_at_s, low=0.0, high=duration)
            extra = _check.non_negative("spike_rps", spike_rps)
            length = _check.positive("spike_s", spike_s)
            rate = rate + np.where((t >= at) & (t < at + length), extra, 0.0)
        return cls(t, rate)


def poisson_arrivals(
    rate_rps: float,
    *,
    n: int | None = None,
    horizon_s: float | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Arrival instants of a Poisson process at ``rate_rps``: either the first ``n`` of
    them, or all of them before ``horizon_s`` (give exactly one)."""
    rate = _check.positive("rate_rps", rate_rps)
    gen = rng(seed)
    if (n is None) == (horizon_s is None):
        raise ValueError("give exactly one of n (a count) or horizon_s (a duration)")
    if n is not None:
        n = _check.integer("n", n, low=1, high=MAX_REQUESTS)
        return np.cumsum(gen.exponential(1.0 / rate, n))
    horizon = _check.positive("horizon_s", horizon_s)
    check_expected_requests("rate_rps * horizon_s", rate * horizon)
    count = gen.poisson(rate * horizon)
    # Given the count, Poisson arrival instants are uniform order statistics.
    return np.sort(gen.uniform(0.0, horizon, count))


def thinned_arrivals(trace: TrafficTrace, *, seed: int | None = None) -> np.ndarray:
    """Arrivals of a non-homogeneous Poisson process following ``trace``, by thinning
    (Lewis & Shedler 1979): candidates at the peak rate, each kept with probability
    rate(t)/peak."""
    if not isinstance(trace, TrafficTrace):
        raise TypeError(f"trace must be a TrafficTrace, got {type(trace).__name__}")
    gen = rng(seed)
    peak = trace.peak_rps
    check_expected_requests("trace peak_rps * duration_s", peak * trace.duration_s)
    count = gen.poisson(peak * trace.duration_s)
    candidates = np.sort(gen.uniform(0.0, trace.duration_s, count))
    keep = gen.uniform(0.0, peak, count) < trace.rate_at(candidates)
    return candidates[keep]


def _unset(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _check_declared_rate(rate: float, count: int, horizon: float) -> None:
    """A declared arrival rate must fit the arrivals: their count over the horizon is
    Poisson with mean rate × horizon, so a gap of more than 6 standard deviations is an
    error in the declaration, not chance (it would misstate the offered load)."""
    expected = rate * horizon
    if count >= 30 and abs(count - expected) > 6 * math.sqrt(max(expected, 1.0)) + 1:
        raise ValueError(
            f"arrival_rate_rps={rate:g} disagrees with the arrivals: {count} arrived in "
            f"{horizon:g} s ({count / horizon:.4g}/s); declare the rate the arrivals follow"
        )


def check_expected_requests(what: str, expected: float) -> None:
    """Refuse a run before drawing it when it would hold too many requests.

    ``expected`` is the expected number of arrivals (requests), e.g. rate (requests/s) ×
    duration (s); ``what`` says how it was computed and is quoted in the error. Raises
    ValueError when ``expected`` exceeds :data:`MAX_REQUESTS`.
    """
    what = _check.text("what", what)
    if isinstance(expected, float) and expected == math.inf:
        # a product of finite values that overflowed: too many by far, said in their names
        raise ValueError(f"{what} overflows a float: far more than the {MAX_REQUESTS:,} "
                         "requests one run allows; shorten the horizon or lower the rate")
    expected = _check.non_negative("expected", expected)
    if expected > MAX_REQUESTS:
        raise ValueError(
            f"{what} = {expected:.3g} expected requests, more than the {MAX_REQUESTS:,} "
            "one run allows; shorten the horizon or lower the rate"
        )


@dataclass(frozen=True, eq=False)
class Workload:
    """Requests to serve: arrival instants (s) and work per request (s on a speed-1 server).

    ``arrival_rate_rps`` and ``mean_work_s`` are the declared averages the offered load is
    computed from (they default to the sample's own averages); a declared rate must agree
    with the arrivals (within 6 Poisson standard deviations). ``peak_rate_rps`` is the
    highest rate the traffic reaches (a trace's peak; by default the average rate).
    ``horizon_s`` is when observation ends (default: the last arrival).
    """

    arrivals_at: np.ndarray
    work_s: np.ndarray
    arrival_rate_rps: float = math.nan
    mean_work_s: float = math.nan
    horizon_s: float = math.nan
    peak_rate_rps: float = math.nan

    def __post_init__(self):
        a = _check.array("arrivals_at", self.arrivals_at, low=0.0, sorted_=True)
        w = _check.array("work_s", self.work_s, low=0.0)
        if a.size != w.size:
            raise ValueError(f"arrivals_at and work_s differ in length: {a.size} vs {w.size}")
        if a.size > MAX_REQUESTS:
            raise ValueError(f"at most {MAX_REQUESTS:,} requests per run, got {a.size:,}")
        horizon = (a[-1] if a.size else 0.0) if _unset(self.horizon_s) else \
            _check.positive("horizon_s", self.horizon_s)
        rate = self.arrival_rate_rps
        if _unset(rate):
            rate = a.size / horizon if horizon > 0 else 0.0
        else:
            rate = _check.non_negative("arrival_rate_rps", rate)
            _check_declared_rate(rate, int((a <= horizon).sum()), horizon)
        mean = (float(w.mean()) if w.size else 0.0) if _unset(self.mean_work_s) else \
            _check.non_negative("mean_work_s", self.mean_work_s)
        peak = rate if _unset(self.peak_rate_rps) else \
            _check.non_negative("peak_rate_rps", self.peak_rate_rps)
        if peak < rate:
            raise ValueError(f"peak_rate_rps ({peak:g}) must be >= arrival_rate_rps ({rate:g})")
        for name, value in (("arrivals_at", a), ("work_s", w)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "horizon_s", float(horizon))
        object.__setattr__(self, "arrival_rate_rps", float(rate))
        object.__setattr__(self, "mean_work_s", float(mean))
        object.__setattr__(self, "peak_rate_rps", float(peak))

    def __len__(self) -> int:
        return int(self.arrivals_at.size)

    @classmethod
    def poisson(
        cls,
        rate_rps: float,
        service: ServiceTime,
        *,
        n: int | None = None,
        horizon_s: float | None = None,
        seed: int | None = None,
    ) -> Workload:
        """Poisson arrivals at ``rate_rps`` with work drawn from ``service``."""
        service = _service(service)
        gen = rng(seed)
        arrivals = poisson_arrivals(
            rate_rps, n=n, horizon_s=horizon_s, seed=int(gen.integers(2**63))
        )
        work = service.sample(arrivals.size, gen)
        return cls(arrivals, work, rate_rps, service.mean_s,
                   horizon_s if horizon_s is not None else math.nan)

    @classmethod
    def from_trace(
        cls, trace: TrafficTrace, service: ServiceTime, *, seed: int | None = None
    ) -> Workload:
        """Arrivals following a traffic trace (thinning), work drawn from ``service``."""
        service = _service(service)
        gen = rng(seed)
        arrivals = thinned_arrivals(trace, seed=int(gen.integers(2**63)))
        work = service.sample(arrivals.size, gen)
        rate = trace.expected_requests() / trace.duration_s
        return cls(arrivals, work, rate, service.mean_s, trace.duration_s, trace.peak_rps)
