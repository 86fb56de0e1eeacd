"""The replication model beside real PostgreSQL: the same experiment, the same parameters,
run on :func:`~scalekit.replication.run_single_primary` and on a streaming-replication
cluster (:class:`~scalekit.engines.PostgresCluster`) on this machine.

* :func:`measure_lag` — a write rate → how far the standby is behind, over time:
  ``pg_stat_replication``'s write/flush/replay lag, the LSN distance in bytes, and the
  acknowledged writes the standby has not replayed (the model's lag, in writes);
* :func:`read_your_writes` — the stale-read rate of a client that reads its own write back
  from the standby ``think_s`` later, against the link's delay; and the two fixes: read from
  the primary after a write, or wait until ``pg_last_wal_replay_lsn()`` reaches the commit;
* :func:`commit_latency` — ``synchronous_commit`` off, local, remote_write, on, remote_apply
  with a synchronous standby: commit latency per mode, and one relay round trip measured;
* :func:`failover` — the primary's host fails mid-stream; the standby is promoted; the
  acknowledged writes missing on the new primary are counted from the client's own
  acknowledgements; then the old primary tries to rejoin (two timelines) and is rewound.

Each returns a frozen result holding both sides and a ``note`` saying where model and engine
differ by design. A real run takes seconds; pass ``cluster=`` (a started
:class:`~scalekit.engines.PostgresCluster` with a standby ``standby1``) to reuse one for
the first three — what they change (delay, synchronous standbys) is put back afterwards.
Without PostgreSQL they raise :class:`~scalekit.engines.EngineUnavailable` ("skipped: …").
Units: seconds, writes per second, bytes.

One file of about 570 lines: the four experiments share the cluster set-up, the client's own
acknowledgement bookkeeping and the model runs beside them, and notebook 05 reads them in
this order; split, each would import the others' private parts.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html
from scalekit.engines import PostgresCluster, RejoinAttempt, RewindReport
from scalekit.engines.workload import (
    median_se,
    poisson_schedule,
    read_back,
    relay_round_trip,
    run_failover,
    sample_lag,
    time_commits,
)
from scalekit.replication import run_single_primary

__all__ = ["PG_COMMIT_MODES", "MODEL_MODE", "LagComparison", "ReadYourWritesComparison",
           "CommitLatencyComparison", "FailoverComparison", "measure_lag", "read_your_writes",
           "commit_latency", "failover", "compare_failover"]

#: PostgreSQL's ``synchronous_commit`` values, weakest first.
PG_COMMIT_MODES = ("off", "local", "remote_write", "on", "remote_apply")
#: The model's commit mode standing for each PostgreSQL one. The model has no disk: ``off``
#: and ``local`` are both its ``async``, and ``on`` (standby flushed to disk) its
#: ``remote_write`` (standby received).
MODEL_MODE = {"off": "async", "local": "async", "remote_write": "remote_write",
              "on": "remote_write", "remote_apply": "remote_apply"}
SYNC_MODES = ("remote_write", "on", "remote_apply")
STANDBY = "standby1"
#: Probes of PostgreSQL's own replay latency (no delay on the link) per run.
_PROBES = 15
MAX_WRITES = 20_000
#: The model's replay time per entry (s): a one-row insert replays in well under 1 ms.
_MODEL_APPLY_S = 0.0005


def _frozen(a) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    a.setflags(write=False)
    return a


def _progress(progress) -> Callable[[int, int], object]:
    if progress is None:
        return lambda done, total: None
    if not callable(progress):
        raise TypeError(f"progress must be None or a callable(done, total), got {progress!r}")
    return progress


@contextlib.contextmanager
def _cluster(cluster: PostgresCluster | None, *, delay_s: float, jitter_s: float, seed):
    """The cluster to run on — the caller's (its delay and synchronous standbys restored
    afterwards) or a new one with one standby, closed afterwards — and a fresh table."""
    if cluster is not None and not isinstance(cluster, PostgresCluster):
        raise TypeError(f"cluster must be a started PostgresCluster or None, got {cluster!r}")
    own = cluster is None
    if own:
        cluster = PostgresCluster(1, delay_s=delay_s, jitter_s=jitter_s, seed=seed).start()
    elif STANDBY not in [s.name for s in cluster.standbys]:
        raise ValueError(f"cluster must have a streaming standby {STANDBY!r}, "
                         f"has {[s.name for s in cluster.standbys]}")
    saved = (cluster.delay_s, cluster.jitter_s, cluster.synchronous)
    table = f"scalekit_{secrets.token_hex(4)}"
    try:
        cluster.set_delay(delay_s, jitter_s)
        cluster.primary.query(f"CREATE TABLE {table}(id bigint PRIMARY KEY, "
                              f"at timestamptz DEFAULT clock_timestamp())")
        cluster.wait_caught_up()
        yield cluster, table
    finally:
        if own:
            cluster.close()
        else:
            cluster.set_delay(saved[0], saved[1])
            if tuple(cluster.synchronous) != tuple(saved[2]):
                cluster.set_synchronous(saved[2])
            with contextlib.suppress(Exception):
                cluster.primary.query(f"DROP TABLE IF EXISTS {table}")


def _check_rate(writes_per_s, duration_s, *, max_duration_s: float = 60.0):
    rate = _check.positive("writes_per_s", writes_per_s)
    duration = _check.number("duration_s", duration_s, low=0.0, low_open=True,
                             high=max_duration_s)
    if rate * duration > MAX_WRITES:
        raise ValueError(f"writes_per_s × duration_s = {rate * duration:.3g} writes, more "
                         f"than the {MAX_WRITES:,} one real run allows")
    return rate, duration


# --------------------------------------------------------------------------- 1. lag


@dataclass(frozen=True, eq=False, repr=False)
class LagComparison(_html.ScalarTable):
    """:func:`measure_lag` on PostgreSQL and on the model.

    Engine, sampled every ``sample_every_s``: ``at_s`` (s), ``lsn_distance`` (bytes: the
    primary's current WAL position minus what the standby has replayed, read on the
    standby), ``writes_behind`` (acknowledged writes the standby has not replayed),
    ``write_lag_s``/``flush_lag_s``/``replay_lag_s`` (``pg_stat_replication``, NaN while
    it reports none). Model: ``model_at_s``, ``model_writes_behind``. Scalars: their means;
    ``expected_writes_behind`` = achieved rate × (delay + mean jitter + replay), Little's law.
    The model runs at the rate the engine's client achieved (``achieved_writes_per_s``; a
    busy machine cannot keep ``writes_per_s``) and replays in PostgreSQL's measured time
    (``replay_latency_s``: acknowledgement to visible on the standby with no delay, the
    mean of a few probes).
    """

    engine: str
    writes_per_s: float
    achieved_writes_per_s: float
    delay_s: float
    jitter_s: float
    replay_latency_s: float
    duration_s: float
    writes: int
    bytes_per_write: float
    mean_lsn_distance: float
    mean_writes_behind: float
    model_mean_writes_behind: float
    expected_writes_behind: float
    mean_write_lag_s: float
    mean_flush_lag_s: float
    mean_replay_lag_s: float
    note: str
    at_s: np.ndarray = field(repr=False)
    lsn_distance: np.ndarray = field(repr=False)
    writes_behind: np.ndarray = field(repr=False)
    write_lag_s: np.ndarray = field(repr=False)
    flush_lag_s: np.ndarray = field(repr=False)
    replay_lag_s: np.ndarray = field(repr=False)
    model_at_s: np.ndarray = field(repr=False)
    model_writes_behind: np.ndarray = field(repr=False)

    def _repr_html_(self) -> str:
        return _html.key_value_table({k: v for k, v in self.summary().items() if k != "note"},
                                     note=self.note)


_LAG_NOTE = ("The model counts lag in log positions and replays each entry in a fixed "
             "time (here PostgreSQL's measured one); PostgreSQL counts bytes of WAL, and "
             "its pg_stat_replication lags are measured by the primary from the standby's "
             "replies, so they include the way back (about one round trip) and go NULL "
             "when the standby is idle.")


def measure_lag(*, writes_per_s: float = 200.0, delay_s: float = 0.02, jitter_s: float = 0.0,
                duration_s: float = 2.0, sample_every_s: float = 0.02,
                cluster: PostgresCluster | None = None, seed: int | None = 0,
                progress: Callable[[int, int], object] | None = None) -> LagComparison:
    """Write at ``writes_per_s`` (Poisson, seeded) for ``duration_s`` s across a link of
    one-way ``delay_s`` (+ jitter below ``jitter_s``) s, and sample how far the standby is
    behind every ``sample_every_s`` s — on PostgreSQL and on the model."""
    rate, duration = _check_rate(writes_per_s, duration_s)
    delay = _check.number("delay_s", delay_s, low=0.0, high=1.0)
    jitter = _check.number("jitter_s", jitter_s, low=0.0, high=1.0)
    every = _check.number("sample_every_s", sample_every_s, low=0.005, high=1.0)
    seed = _check.seed(seed)
    schedule = poisson_schedule(rate, duration, seed)
    with _cluster(cluster, delay_s=0.0, jitter_s=0.0, seed=seed) as (c, table):
        replay_s = _replay_latency(c, table)["mean"]
        c.set_delay(delay, jitter)
        s, writer = sample_lag(c, STANDBY, table, schedule, every, duration,
                               _progress(progress))
        engine = str(c.binaries)
    achieved = len(writer.acks) / duration
    lsns = np.array([a.lsn for a in writer.acks], dtype=float)
    acked = np.array([a.acked_s for a in writer.acks], dtype=float)
    at, current, replayed = s[:, 0], s[:, 1], s[:, 2]
    # acknowledged by the sample's instant, not yet replayed by the standby
    behind = ((acked[None, :] <= at[:, None]) & (lsns[None, :] > replayed[:, None])).sum(axis=1)
    model = run_single_primary(replicas=1, commit="async", delay_s=delay, jitter_s=jitter,
                               apply_s=replay_s, writes_per_s=max(achieved, 1e-3),
                               duration_s=duration, read_share=0.0, seed=seed)
    return LagComparison(
        engine=engine, writes_per_s=rate, achieved_writes_per_s=achieved, delay_s=delay,
        jitter_s=jitter, replay_latency_s=replay_s, duration_s=duration,
        writes=len(writer.acks),
        bytes_per_write=float(np.diff(lsns).mean()) if lsns.size > 1 else 0.0,
        mean_lsn_distance=float(np.mean(np.maximum(current - replayed, 0.0))),
        mean_writes_behind=float(behind.mean()),
        model_mean_writes_behind=float(model.lag.mean()) if model.lag.size else 0.0,
        expected_writes_behind=achieved * (delay + jitter / 2 + replay_s),
        mean_write_lag_s=_nanmean(s[:, 3]), mean_flush_lag_s=_nanmean(s[:, 4]),
        mean_replay_lag_s=_nanmean(s[:, 5]), note=_LAG_NOTE,
        at_s=_frozen(at), lsn_distance=_frozen(np.maximum(current - replayed, 0.0)),
        writes_behind=_frozen(behind), write_lag_s=_frozen(s[:, 3]),
        flush_lag_s=_frozen(s[:, 4]), replay_lag_s=_frozen(s[:, 5]),
        model_at_s=_frozen(model.lag_at), model_writes_behind=_frozen(model.lag))


def _replay_latency(c: PostgresCluster, table: str) -> dict[str, float]:
    """PostgreSQL's own time (s) from acknowledgement to visible on the standby, with no
    delay on the link, over a few probes: its ``mean`` (what a wait or Little's law
    averages over), ``median`` (the typical read) and 10th/90th percentiles ``low`` and
    ``high`` (how much it varies, which the model's fixed apply time cannot)."""
    probe = np.array(read_back(c.primary, c.server(STANDBY), table, reads=_PROBES,
                               think_s=0.0, first_id=10_000_000).visible_s)
    low, median, high = np.percentile(probe, [10, 50, 90])
    return {"mean": float(probe.mean()), "median": float(median), "low": float(low),
            "high": float(high)}


def _nanmean(a: np.ndarray) -> float:
    return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")


# --------------------------------------------------------------------------- 2. read-your-writes


@dataclass(frozen=True, eq=False, repr=False)
class ReadYourWritesComparison(_html.ScalarTable):
    """:func:`read_your_writes`: per one-way delay in ``delays_s`` (s), the share of reads
    that missed the client's own write — ``stale_rate`` (PostgreSQL, reading the standby,
    ``reads`` per point) and ``model_stale_rate`` (``model_reads``); with the fixes,
    ``primary_stale_rate`` (read the primary after a write), ``wait_stale_rate`` and
    ``mean_wait_s`` ± ``wait_se_s`` (wait until the standby's replay LSN reaches the
    commit's) and the
    model's ``model_wait_s``; ``mean_think_s``: the think time the engine's client
    actually slept (a busy machine oversleeps). ``replay_latency_s``: PostgreSQL's own
    time from acknowledgement to visible on the standby with no delay on the link
    (median of a few probes) — the model's apply time for the stale reads (for the waits,
    the probes' mean: a wait averages over it);
    ``model_stale_low``/``model_stale_high``: the model with the probes' 10th and 90th
    percentile instead (PostgreSQL's replay time varies; the model's is fixed)."""

    engine: str
    think_s: float
    jitter_s: float
    replay_latency_s: float
    note: str
    delays_s: np.ndarray = field(repr=False)
    reads: np.ndarray = field(repr=False)
    stale_rate: np.ndarray = field(repr=False)
    model_stale_rate: np.ndarray = field(repr=False)
    model_stale_low: np.ndarray = field(repr=False)
    model_stale_high: np.ndarray = field(repr=False)
    model_reads: np.ndarray = field(repr=False)
    primary_stale_rate: np.ndarray = field(repr=False)
    wait_stale_rate: np.ndarray = field(repr=False)
    mean_wait_s: np.ndarray = field(repr=False)
    wait_se_s: np.ndarray = field(repr=False)
    model_wait_s: np.ndarray = field(repr=False)
    mean_think_s: np.ndarray = field(repr=False)

    def rows(self) -> list[dict]:
        """One record per delay, for a table."""
        return [{"delay (ms)": 1e3 * d, "stale, PostgreSQL": s, "stale, model": m,
                 "read the primary": p, "wait for the LSN": w, "wait (ms)": 1e3 * ws,
                 "model wait (ms)": 1e3 * mw}
                for d, s, m, p, w, ws, mw in zip(
                    self.delays_s.tolist(), self.stale_rate.tolist(),
                    self.model_stale_rate.tolist(), self.primary_stale_rate.tolist(),
                    self.wait_stale_rate.tolist(), self.mean_wait_s.tolist(),
                    self.model_wait_s.tolist(), strict=True)]

    def _repr_html_(self) -> str:
        return _html.rows_table(self.rows(), note=f"{self.engine}. {self.note}")


_RYW_NOTE = ("Both read the standby think_s after the acknowledgement; a read is stale when "
             "the write has not been replayed by then. PostgreSQL's own send, write and "
             "replay path takes a varying time (a millisecond idle, several on a busy "
             "machine); the model replays in a fixed time, set to that path's measured "
             "median. The model's clients write as a Poisson stream, the engine's one after "
             "another.")

#: The model's write rate in :func:`read_your_writes` (low: no queueing on the link).
_MODEL_RATE = 50.0


def read_your_writes(*, delays_s: Sequence[float] = (0.0, 0.01, 0.015, 0.02, 0.025, 0.04),
                     think_s: float = 0.02, jitter_s: float = 0.01, reads: int = 30,
                     model_reads: int = 400, cluster: PostgresCluster | None = None,
                     seed: int | None = 0,
                     progress: Callable[[int, int], object] | None = None
                     ) -> ReadYourWritesComparison:
    """For each one-way delay in ``delays_s`` (s), ``reads`` times: write a row and read it
    back ``think_s`` s after the acknowledgement — from the standby, from the primary, and
    from the standby once its replay LSN has reached the commit's. The model runs
    ``model_reads`` writes per delay with the same delay, jitter and think time."""
    delays = _check.array("delays_s", delays_s, low=0.0, min_len=1)
    if delays.size > 20 or delays.max() > 1.0:
        raise ValueError(f"delays_s must hold at most 20 delays of at most 1 s, got {delays}")
    think = _check.number("think_s", think_s, low=0.0, high=1.0)
    jitter = _check.number("jitter_s", jitter_s, low=0.0, high=1.0)
    n = _check.integer("reads", reads, low=1, high=2000)
    model_n = _check.integer("model_reads", model_reads, low=1, high=20_000)
    seed = _check.seed(seed)
    tick = _progress(progress)
    engine_runs = []
    with _cluster(cluster, delay_s=0.0, jitter_s=0.0, seed=seed) as (c, table):
        engine = str(c.binaries)
        replay = _replay_latency(c, table)
        c.set_delay(0.0, jitter)
        for i, d in enumerate(delays.tolist()):
            c.set_delay(d)
            c.wait_caught_up()
            engine_runs.append(read_back(c.primary, c.server(STANDBY), table, reads=n,
                                         think_s=think, first_id=1 + i * n))
            tick(i + 1, len(delays))
    def run(d: float, policy: str, apply_s: float):
        return run_single_primary(replicas=1, commit="async", delay_s=d, jitter_s=jitter,
                                  apply_s=apply_s, writes_per_s=_MODEL_RATE,
                                  duration_s=model_n / _MODEL_RATE, think_s=think,
                                  read_share=1.0, read_policy=policy, seed=seed)

    model = [{"any": run(d, "any", replay["median"]),
              "wait": run(d, "wait_for_position", replay["mean"]),
              "low": run(d, "any", replay["low"]), "high": run(d, "any", replay["high"])}
             for d in delays.tolist()]
    return ReadYourWritesComparison(
        engine=engine, think_s=think, jitter_s=jitter, replay_latency_s=replay["median"],
        note=_RYW_NOTE, delays_s=_frozen(delays), reads=_frozen([r.reads for r in engine_runs]),
        stale_rate=_frozen([r.stale / r.reads for r in engine_runs]),
        model_stale_rate=_frozen([m["any"].stale_read_rate for m in model]),
        model_reads=_frozen([m["any"].reads for m in model]),
        primary_stale_rate=_frozen([r.primary_stale / r.reads for r in engine_runs]),
        wait_stale_rate=_frozen([r.wait_stale / r.reads for r in engine_runs]),
        mean_wait_s=_frozen([np.mean(r.waits_s) for r in engine_runs]),
        wait_se_s=_frozen([np.std(r.waits_s, ddof=1) / np.sqrt(len(r.waits_s))
                           if len(r.waits_s) > 1 else 0.0 for r in engine_runs]),
        model_wait_s=_frozen([m["wait"].mean_read_wait_s for m in model]),
        model_stale_low=_frozen([m["low"].stale_read_rate for m in model]),
        model_stale_high=_frozen([m["high"].stale_read_rate for m in model]),
        mean_think_s=_frozen([np.mean(r.thinks_s) for r in engine_runs]))


# --------------------------------------------------------------------------- 3. commit modes


@dataclass(frozen=True, eq=False, repr=False)
class CommitLatencyComparison(_html.ScalarTable):
    """:func:`commit_latency`: per ``synchronous_commit`` mode in ``modes``, the median
    commit latency (s) on PostgreSQL with a synchronous standby behind a link of one-way
    ``delay_s`` (``median_s`` ± ``median_se_s``, bootstrap), the same with no delay on the
    link (``zero_delay_median_s`` ± ``zero_delay_se_s``), and the model's mean for the mode
    standing for it (``model_mean_s``, :data:`MODEL_MODE`).

    ``relay_rtt_s`` (± ``relay_rtt_se_s``): the round trip the delay adds, measured —
    ``SELECT 1`` through a relay of ``delay_s`` minus through one of 0 s. A synchronous
    commit should cost its zero-delay latency plus that (``expected_s``, NaN for the modes
    that wait for no standby); ``expected_sync_s`` = median local commit + that round trip,
    the rule of thumb. ``relay_late_s``: the 90th percentile of how late the standby's relay
    forwarded a delayed chunk during the commits — on a busy machine its thread wakes late,
    and a synchronous commit crosses it twice (the WAL out, the answer back)."""

    engine: str
    delay_s: float
    commits: int
    relay_rtt_s: float
    relay_rtt_se_s: float
    relay_late_s: float
    expected_sync_s: float
    note: str
    modes: tuple[str, ...] = field(repr=False)
    median_s: np.ndarray = field(repr=False)
    mean_s: np.ndarray = field(repr=False)
    median_se_s: np.ndarray = field(repr=False)
    zero_delay_median_s: np.ndarray = field(repr=False)
    zero_delay_se_s: np.ndarray = field(repr=False)
    expected_s: np.ndarray = field(repr=False)
    model_mean_s: np.ndarray = field(repr=False)
    samples_s: np.ndarray = field(repr=False)  #: modes × commits

    def of(self, mode: str) -> float:
        """The median commit latency (s) of ``mode``."""
        return float(self.median_s[self.modes.index(_check.choice("mode", mode, self.modes))])

    def rows(self) -> list[dict]:
        return [{"synchronous_commit": m, "median (ms)": 1e3 * md, "± (ms)": 1e3 * se,
                 "no delay (ms)": 1e3 * z, "expected (ms)": 1e3 * e, "model (ms)": 1e3 * mm,
                 "model mode": MODEL_MODE[m]}
                for m, md, se, z, e, mm in zip(
                    self.modes, self.median_s.tolist(), self.median_se_s.tolist(),
                    self.zero_delay_median_s.tolist(), self.expected_s.tolist(),
                    self.model_mean_s.tolist(), strict=True)]

    def _repr_html_(self) -> str:
        return _html.rows_table(self.rows(), note=(
            f"{self.engine}; one-way delay {1e3 * self.delay_s:g} ms, measured round trip "
            f"{1e3 * self.relay_rtt_s:.2f} ms. {self.note}"))


_COMMIT_NOTE = ("The model has no disk: its local commit costs nothing, so off and local are "
                "both its async, and on (the standby has flushed) is its remote_write (the "
                "standby has received). PostgreSQL's local commit waits for its own WAL "
                "flush; a synchronous mode adds one round trip and the standby's write, "
                "flush or replay.")


def commit_latency(*, modes: Sequence[str] = PG_COMMIT_MODES, delay_s: float = 0.01,
                   commits: int = 30, cluster: PostgresCluster | None = None,
                   seed: int | None = 0,
                   progress: Callable[[int, int], object] | None = None
                   ) -> CommitLatencyComparison:
    """Commit ``commits`` single-row transactions per ``synchronous_commit`` mode with
    ``standby1`` synchronous behind a link of one-way ``delay_s`` s, and as many per
    synchronous mode with no delay; measure the round trip the delay adds; run the model
    likewise. Modes are interleaved, and the two delays alternate in blocks, so a busy
    machine slows every measurement alike."""
    modes = tuple(_check.choice("mode", m, PG_COMMIT_MODES) for m in _seq("modes", modes))
    delay = _check.number("delay_s", delay_s, low=0.0, high=1.0)
    n = _check.integer("commits", commits, low=3, high=2000)
    seed = _check.seed(seed)
    tick = _progress(progress)
    sync = [m for m in modes if m in SYNC_MODES]
    with _cluster(cluster, delay_s=delay, jitter_s=0.0, seed=seed) as (c, table):
        engine = str(c.binaries)
        c.set_synchronous([STANDBY])
        rtt, rtt_se = relay_round_trip(c.primary, delay, repeats=max(n, 20), seed=seed)
        c.relay(STANDBY).lateness_s(clear=True)
        samples, zero = time_commits(c, table, modes, sync, delay_s=delay, commits=n,
                                     blocks=_BLOCKS, tick=tick)
        late = c.relay(STANDBY).lateness_s()
    rng = np.random.default_rng(seed)
    zero_median = np.array([np.median(z) if m in sync else np.nan
                            for m, z in zip(modes, zero, strict=True)])
    model = {m: run_single_primary(replicas=1, commit=m, delay_s=delay, jitter_s=0.0,
                                   apply_s=_MODEL_APPLY_S, writes_per_s=50.0,
                                   duration_s=max(n / 50.0, 0.5), read_share=0.0, seed=seed)
             for m in set(MODEL_MODE[x] for x in modes)}
    local = float(np.median(samples[modes.index("local")])) if "local" in modes else 0.0
    return CommitLatencyComparison(
        engine=engine, delay_s=delay, commits=n, relay_rtt_s=rtt, relay_rtt_se_s=rtt_se,
        relay_late_s=float(np.percentile(late, 90)) if late else 0.0,
        expected_sync_s=local + rtt, note=_COMMIT_NOTE, modes=modes,
        median_s=_frozen(np.median(samples, axis=1)), mean_s=_frozen(samples.mean(axis=1)),
        median_se_s=_frozen([median_se(row, rng) for row in samples]),
        zero_delay_median_s=_frozen(zero_median),
        zero_delay_se_s=_frozen([median_se(z, rng) if m in sync else np.nan
                                 for m, z in zip(modes, zero, strict=True)]),
        expected_s=_frozen(zero_median + rtt),
        model_mean_s=_frozen([model[MODEL_MODE[m]].mean_commit_s for m in modes]),
        samples_s=_frozen(samples))


#: Blocks of rounds in :func:`commit_latency`, alternating no delay and the delay.
_BLOCKS = 3


def _seq(name: str, value) -> tuple:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise TypeError(f"{name} must be a non-empty sequence, got {value!r}")
    return tuple(value)


# --------------------------------------------------------------------------- 4. failover


@dataclass(frozen=True, eq=False, repr=False)
class FailoverComparison(_html.ScalarTable):
    """:func:`failover` in one ``synchronous_commit`` mode, on PostgreSQL and the model.

    Engine: ``sent`` writes, ``acknowledged`` by the server (the client's own record), then
    the primary failed at ``failed_at_s``; ``lost_writes`` = acknowledged ids missing on the
    promoted standby; ``unacknowledged_present`` = ids the client never heard back about
    that the new primary has anyway. ``promote_s``: how long ``pg_promote`` took;
    ``timelines``: old and new. ``rejoin``/``rewind``: the old primary's return (None when
    not asked for); ``rewound_rows_match``: after the rewind it holds exactly the new
    primary's rows. Model: ``model_acknowledged``, ``model_lost_writes``.
    """

    engine: str
    commit: str
    model_commit: str
    writes_per_s: float
    delay_s: float
    failed_at_s: float
    sent: int
    acknowledged: int
    lost_writes: int
    unacknowledged_present: int
    promote_s: float
    model_acknowledged: int
    model_lost_writes: int
    rewound_rows_match: bool | None
    note: str
    timelines: tuple[int, int] = field(repr=False)
    rejoin: RejoinAttempt | None = field(repr=False, default=None)
    rewind: RewindReport | None = field(repr=False, default=None)
    lost_ids: tuple[int, ...] = field(repr=False, default=())

    def _repr_html_(self) -> str:
        shown = {k: v for k, v in self.summary().items() if k != "note"}
        if self.rejoin is not None:
            shown["rejoin without rewind"] = ("rejoined" if self.rejoin.rejoined
                                              else "refused: " + self.rejoin.evidence)
        return _html.key_value_table(shown, note=self.note)


_FAILOVER_NOTE = ("Both cut the failed primary's links at the failure, so WAL still in flight "
                  "is lost, as on a dead host; the model's writers go on writing to the new "
                  "primary after the failover, the engine's client stops at the first error.")


def failover(commit: str = "local", *, writes_per_s: float = 200.0, delay_s: float = 0.02,
             jitter_s: float = 0.0, fail_after_s: float = 0.6, rejoin: bool = False,
             seed: int | None = 0) -> FailoverComparison:
    """A client writes at ``writes_per_s`` (Poisson) with ``synchronous_commit = commit``
    (``standby1`` synchronous for remote_write, on, remote_apply) through a link of one-way
    ``delay_s`` s; after ``fail_after_s`` s the primary's host fails (links cut, postmaster
    SIGKILLed) and the standby is promoted. Acknowledged writes missing on it are lost.
    ``rejoin``: then let the old primary try to follow without a rewind, and rewind it.
    Always on a cluster of its own (a failover changes who is primary)."""
    commit = _check.choice("commit", commit, PG_COMMIT_MODES)
    rate, fail_at = _check_rate(writes_per_s, fail_after_s, max_duration_s=30.0)
    delay = _check.number("delay_s", delay_s, low=0.0, high=1.0)
    jitter = _check.number("jitter_s", jitter_s, low=0.0, high=1.0)
    rejoin = _check.boolean("rejoin", rejoin)
    seed = _check.seed(seed)
    run = run_failover(commit, standby=STANDBY, synchronous=commit in SYNC_MODES,
                       delay_s=delay, jitter_s=jitter,
                       schedule=poisson_schedule(rate, fail_at + 5.0, seed),
                       fail_after_s=fail_at, rejoin=rejoin, seed=seed)
    model = run_single_primary(replicas=1, commit=MODEL_MODE[commit], delay_s=delay,
                               jitter_s=jitter, apply_s=_MODEL_APPLY_S, writes_per_s=rate,
                               duration_s=fail_at + 0.5, read_share=0.0, fail_at=fail_at,
                               failover_s=0.1, down_s=10.0, stale_client_share=0.0, seed=seed)
    acked, present = set(run.acknowledged), set(run.present)
    lost = sorted(acked - present)
    return FailoverComparison(
        engine=run.engine, commit=commit, model_commit=MODEL_MODE[commit], writes_per_s=rate,
        delay_s=delay, failed_at_s=run.failed_at_s, sent=run.sent, acknowledged=len(acked),
        lost_writes=len(lost), unacknowledged_present=len(present - acked),
        promote_s=run.promote_s, model_acknowledged=model.acknowledged,
        model_lost_writes=model.lost_writes, rewound_rows_match=run.rewound_rows_match,
        note=_FAILOVER_NOTE, timelines=run.timelines, rejoin=run.rejoin, rewind=run.rewind,
        lost_ids=tuple(lost))


def compare_failover(modes: Sequence[str] = ("local", "on", "remote_apply"), *,
                     progress: Callable[[int, int], object] | None = None,
                     **kwargs) -> list[FailoverComparison]:
    """:func:`failover` once per mode in ``modes``, same seed and workload."""
    modes = tuple(_check.choice("mode", m, PG_COMMIT_MODES) for m in _seq("modes", modes))
    tick = _progress(progress)
    out = []
    for i, mode in enumerate(modes):
        out.append(failover(mode, **kwargs))
        tick(i + 1, len(modes))
    return out
