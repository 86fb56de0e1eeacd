"""Clients of a single-primary cluster: writes, reads of one's own writes, a primary failure.

The real mechanism. Web clients write to the primary of a
:class:`~scalekit.replication.single.SinglePrimary` cluster and, a moment later, read what
they wrote — from a replica (which may not have it yet: a read-your-writes violation) or from
the primary. At ``fail_at`` the primary dies. Then one of two things happens, as in a real
deployment:

* **failover** (``failover_s`` a number): after ``failover_s`` the most advanced replica is
  promoted; acknowledged writes it never received are lost (possible in ``async``, never in
  the synchronous modes); the old primary returns ``down_s`` later and is fenced — or, with
  ``fencing=False``, accepts writes from clients that did not hear of the failover (split
  brain);
* **restart** (``failover_s=None``): nobody is promoted; the primary comes back ``down_s``
  later with everything it had written — its log is on disk — and resumes. Writes in between
  are refused (unavailable), none is lost, in any commit mode.

Every parameter lives in one frozen :class:`SinglePrimarySettings` (validated on creation,
units in its field list), so a reader can follow a number from the notebook to the loop:
``run_single_primary(delay_s=0.08)`` is ``run_single_primary(SinglePrimarySettings(),
delay_s=0.08)``.

Randomness: three independent streams of :func:`scalekit._seeds.streams` (``seed``) — the
network's jitter (stream 0, drawn by the cluster), the write arrivals (1) and the clients'
choices (2: keys, which replica to read, which clients are stale).
Units: seconds, writes per second.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html, _seeds
from scalekit.replication.log import MAX_TIME_S, LogEntry, Node, NotPrimaryError
from scalekit.replication.single import (
    ARRIVALS_STREAM,
    CLIENTS_STREAM,
    COMMIT_MODES,
    READ_POLICIES,
    SinglePrimary,
)

__all__ = ["MAX_WRITES", "MAX_KEYS", "SinglePrimarySettings", "SinglePrimaryResult",
           "run_single_primary", "compare_commit_modes"]

#: Most writes one run may simulate (each is a real SQLite transaction on every node; 20,000
#: take about 15 s).
MAX_WRITES = 20_000
#: Most distinct keys the clients write.
MAX_KEYS = 1_000_000


def _time(name: str, value, *, positive: bool = False) -> float:
    """A simulated instant or span (s): finite, >= 0 (> 0 if ``positive``), at most
    :data:`~scalekit.replication.log.MAX_TIME_S`."""
    return _check.number(name, value, low=0.0, low_open=positive, high=MAX_TIME_S)


@dataclass(frozen=True)
class SinglePrimarySettings:
    """Everything one :func:`run_single_primary` needs, checked on creation.

    Cluster: ``replicas`` (1–100) replicas; ``commit`` one of
    :data:`~scalekit.replication.single.COMMIT_MODES`; ``delay_s`` one-way network delay (s)
    plus a uniform ``jitter_s`` (s); ``apply_s`` (s) for a replica to replay an entry.
    Workload: Poisson writes at ``writes_per_s`` (writes/s) for ``duration_s`` (s) on ``keys``
    keys; ``think_s`` (s) after its acknowledgement a client reads its key back — from a random
    replica with probability ``read_share``, else from the primary — under ``read_policy``
    (:data:`~scalekit.replication.single.READ_POLICIES`: ``"primary_after_write"`` always
    reads the primary, ``"wait_for_position"`` waits until the replica has applied the write).
    Failure: at ``fail_at`` (s, or None: never) the primary dies; ``failover_s`` (s) later a
    replica is promoted — None: nobody is, and the primary restarts ``down_s`` (s) after it
    died; with a failover the old primary returns ``down_s`` after the promotion, ``fencing``
    or not, and a share ``stale_client_share`` of later writes still go to it.
    ``seed``: a non-negative int, or None for fresh randomness.
    """

    replicas: int = 2
    commit: str = "async"
    delay_s: float = 0.05
    jitter_s: float = 0.02
    apply_s: float = 0.005
    writes_per_s: float = 50.0
    duration_s: float = 5.0
    keys: int = 100
    think_s: float = 0.05
    read_share: float = 1.0
    read_policy: str = "any"
    fail_at: float | None = None
    failover_s: float | None = 0.2
    down_s: float = 1.0
    fencing: bool = True
    stale_client_share: float = 0.3
    seed: int | None = 0

    def __post_init__(self) -> None:
        checked = {
            "replicas": _check.integer("replicas", self.replicas, low=1, high=100),
            "commit": _check.choice("commit", self.commit, COMMIT_MODES),
            "delay_s": _time("delay_s", self.delay_s),
            "jitter_s": _time("jitter_s", self.jitter_s),
            "apply_s": _time("apply_s", self.apply_s),
            "writes_per_s": _check.positive("writes_per_s", self.writes_per_s),
            "duration_s": _time("duration_s", self.duration_s, positive=True),
            "keys": _check.integer("keys", self.keys, low=1, high=MAX_KEYS),
            "think_s": _time("think_s", self.think_s),
            "read_share": _check.probability("read_share", self.read_share),
            "read_policy": _check.choice("read_policy", self.read_policy, READ_POLICIES),
            "fail_at": _check.optional(_time, "fail_at", self.fail_at,
                                       meaning="the primary never fails"),
            "failover_s": _check.optional(_time, "failover_s", self.failover_s,
                                          meaning="nobody is promoted: the primary restarts"),
            "down_s": _time("down_s", self.down_s),
            "fencing": _check.boolean("fencing", self.fencing),
            "stale_client_share": _check.probability("stale_client_share",
                                                     self.stale_client_share),
            "seed": _check.seed(self.seed),
        }
        writes = checked["writes_per_s"] * checked["duration_s"]
        if writes > MAX_WRITES:
            shown = f"{writes:,.0f}" if writes < 1e15 else f"{writes:.3g}"
            raise ValueError(f"writes_per_s × duration_s = {shown} writes, more than the "
                             f"{MAX_WRITES:,} one run allows; lower writes_per_s or shorten "
                             f"duration_s")
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def _repr_html_(self) -> str:
        return _html.key_value_table(dataclasses.asdict(self))


@dataclass(frozen=True, eq=False, repr=False)
class SinglePrimaryResult(_html.ScalarTable):
    """One run of :func:`run_single_primary`.

    ``mean_commit_s``/``max_commit_s``: commit latency (s) of acknowledged writes;
    ``mean_lag``/``max_lag``: replication lag in log positions (primary position − replica
    applied position, the worst replica, sampled over time); ``stale_reads`` of
    ``replica_reads`` reads on replicas missed the client's own write (``stale_read_rate`` per
    read of any node); ``mean_read_wait_s``: extra wait of ``wait_for_position`` reads;
    ``unavailable``: writes refused while no primary was up; ``lost_writes``: acknowledged
    writes missing from the final primary; ``refused_writes``: writes a fenced old primary
    refused; ``divergent_writes``: writes an unfenced one accepted; ``converged``: every live
    node has the same checksum after quiescence. Arrays: ``lag_at`` (s) and ``lag``
    (positions), ``commit_s`` (s) per acknowledged write. ``settings``: what was run.
    """

    commit: str
    replicas: int
    delay_s: float
    read_policy: str
    read_share: float
    writes: int
    acknowledged: int
    unavailable: int
    mean_commit_s: float
    max_commit_s: float
    mean_lag: float
    max_lag: int
    reads: int
    replica_reads: int
    stale_reads: int
    stale_read_rate: float
    mean_read_wait_s: float
    lost_writes: int
    refused_writes: int
    divergent_writes: int
    converged: bool
    lag_at: np.ndarray = field(repr=False)
    lag: np.ndarray = field(repr=False)
    commit_s: np.ndarray = field(repr=False)
    settings: SinglePrimarySettings = field(repr=False)

    def headline(self) -> dict[str, str]:
        """The run in six lines, as a reader asks about it (the notebook's view of a result;
        :meth:`table` has every field)."""
        s = self.settings
        failure = ("no failure" if s.fail_at is None or s.fail_at >= s.duration_s else
                   f"primary fails at {s.fail_at:g} s, then "
                   + ("a restart" if s.failover_s is None else "a failover"))
        return {
            "run": f"{self.commit}, {self.replicas} replica{'s' * (self.replicas > 1)}, "
                   f"{1e3 * self.delay_s:.0f} ms delay, {failure}",
            "writes acknowledged": f"{self.acknowledged} of {self.writes}" + _aside(
                [(self.unavailable, "refused with no primary up"),
                 (self.refused_writes, "refused by the fenced old primary"),
                 (self.divergent_writes, "taken by the unfenced old primary: split brain")]),
            "commit latency": f"{1e3 * self.mean_commit_s:.0f} ms mean, "
                              f"{1e3 * self.max_commit_s:.0f} ms worst",
            "reads of one's own write": f"{self.stale_reads} of {self.reads} stale "
                                        f"({self.stale_read_rate:.0%})",
            "acknowledged writes lost": str(self.lost_writes),
            "nodes converged": "yes" if self.converged else "NO",
        }

    def _repr_html_(self) -> str:
        return _html.key_value_table(self.headline(), note="result.table(): every field; "
                                                           "result.settings: what was run")


def _aside(counts: list[tuple[int, str]]) -> str:
    """" (3 refused …, 2 …)" for the non-zero counts, "" when all are zero."""
    shown = [f"{n} {what}" for n, what in counts if n]
    return f" ({'; '.join(shown)})" if shown else ""


def run_single_primary(settings: SinglePrimarySettings | None = None, /,
                       **overrides) -> SinglePrimaryResult:
    """Simulate clients writing to a replicated database and reading their writes back.

    ``settings`` — a :class:`SinglePrimarySettings` (default: its defaults); ``overrides`` —
    any of its fields, applied with :func:`dataclasses.replace` (so
    ``run_single_primary(commit="remote_apply", fail_at=2.0)`` works as it reads). Bad values
    raise ValueError or TypeError naming the setting.
    """
    s = _check.settings(SinglePrimarySettings, settings, overrides)
    cluster = SinglePrimary(s.replicas, commit=s.commit, delay_s=s.delay_s,
                            jitter_s=s.jitter_s, apply_s=s.apply_s, fencing=s.fencing,
                            seed=s.seed)
    randomness = _seeds.streams(s.seed, 3)
    arrivals = randomness[ARRIVALS_STREAM]
    gaps = arrivals.exponential(1.0 / s.writes_per_s,
                                size=int(s.writes_per_s * s.duration_s * 2) + 10)
    with np.errstate(over="ignore"):  # a rate near 0: gaps near the float maximum sum to
        times = np.cumsum(gaps)        # inf, past the run's end and dropped just below
    times = times[times < s.duration_s]
    return _Run(cluster, randomness[CLIENTS_STREAM], s).go(times)


def compare_commit_modes(settings: SinglePrimarySettings | None = None, /,
                         **overrides) -> list[SinglePrimaryResult]:
    """:func:`run_single_primary` once per commit mode, same seed and workload (any
    ``commit`` in ``settings`` is replaced; passing ``commit`` here is refused)."""
    if "commit" in overrides:
        raise TypeError(f"commit={overrides['commit']!r}: compare_commit_modes runs every "
                        f"commit mode ({', '.join(COMMIT_MODES)}); leave commit out, or call "
                        f"run_single_primary(commit=...) for one")
    base = _check.settings(SinglePrimarySettings, settings, overrides)
    return [run_single_primary(base, commit=mode) for mode in COMMIT_MODES]


class _Run:
    """The bookkeeping of one :func:`run_single_primary` (the event callbacks)."""

    def __init__(self, cluster: SinglePrimary, rng: np.random.Generator,
                 settings: SinglePrimarySettings) -> None:
        self.c, self.rng, self.s = cluster, rng, settings
        self.old_primary = cluster.nodes[0].name
        self.failed_over = False
        self.acked: list[tuple[LogEntry, float]] = []
        self.unavailable = self.refused = self.divergent = 0
        self.reads = self.replica_reads = self.stale = 0
        self.waits: list[float] = []
        self.parked: list[tuple[Node, LogEntry, float]] = []
        self.lag_at: list[float] = []
        self.lag: list[int] = []
        cluster.subscribe("applied", self._release)

    def go(self, times: np.ndarray) -> SinglePrimaryResult:
        c, s = self.c, self.s
        for i, at in enumerate(times.tolist()):
            c.clock.at(at, lambda i=i: self._write(i))
        for at in np.linspace(0.0, s.duration_s, 201).tolist():
            c.clock.at(at, self._sample)
        if s.fail_at is not None and s.fail_at < s.duration_s:
            c.clock.at(s.fail_at, lambda: c.fail(self.old_primary))
            back_at = s.fail_at + s.down_s
            if s.failover_s is not None:
                c.clock.at(s.fail_at + s.failover_s, self._fail_over)
                back_at += s.failover_s
            c.clock.at(back_at, lambda: c.recover(self.old_primary))
        c.clock.run(s.duration_s)
        c.quiesce()
        return self._result(len(times))

    def _fail_over(self) -> None:
        if self.c.primary is None:  # (the old primary has not come back first)
            self.c.promote()
            self.failed_over = True

    def _write(self, i: int) -> None:
        c = self.c
        key, value = f"k{int(self.rng.integers(self.s.keys))}", f"w{i}"
        old = c.node(self.old_primary)
        stale_client = self.failed_over and self.rng.random() < self.s.stale_client_share
        if stale_client and old.up:
            try:
                c.write(key, value, node=old.name)
                self.divergent += 1
            except NotPrimaryError:
                self.refused += 1
            return
        if c.primary is None:
            self.unavailable += 1
            return
        c.write(key, value, on_ack=self._acked)

    def _acked(self, entry: LogEntry, at: float) -> None:
        self.acked.append((entry, at))
        self.c.clock.at(at + self.s.think_s, lambda: self._read(entry))

    def _read(self, entry: LogEntry) -> None:
        c, policy = self.c, self.s.read_policy
        if c.primary is None:
            return
        live = [n for n in c.followers() if n.up]
        target = c.primary
        if policy != "primary_after_write" and live and self.rng.random() < self.s.read_share:
            target = live[int(self.rng.integers(len(live)))]
        if policy == "wait_for_position" and target.applied_lsn < entry.lsn:
            self.parked.append((target, entry, c.clock.now))
            return
        self._check_read(target, entry, 0.0)

    def _check_read(self, node: Node, entry: LogEntry, wait_s: float) -> None:
        self.reads += 1
        self.replica_reads += node is not self.c.primary
        if self.s.read_policy == "wait_for_position":
            self.waits.append(wait_s)
        row = node.read(entry.key)
        if row is None or row[1] < entry.lsn:
            self.stale += 1

    def _release(self, node: Node, applied: LogEntry) -> None:
        """A parked ``wait_for_position`` read answers once its replica has the write."""
        if not self.parked:
            return
        still = []
        for target, entry, since in self.parked:
            if target is node and node.applied_lsn >= entry.lsn and node.up:
                self._check_read(node, entry, self.c.clock.now - since)
            else:
                still.append((target, entry, since))
        self.parked = still

    def _sample(self) -> None:
        c = self.c
        live = [n for n in c.followers() if n.up]
        if c.primary is None or not live:
            return
        self.lag_at.append(c.clock.now)
        self.lag.append(max(c.primary.applied_lsn - n.applied_lsn for n in live))

    def _result(self, writes: int) -> SinglePrimaryResult:
        c = self.c
        final = c.primary
        lost = sum(1 for e, _ in self.acked if final is None or not final.has_entry(e.term, e.lsn))
        commit_s = np.array([at - e.written_at for e, at in self.acked])
        lag = np.array(self.lag, dtype=int)
        sums = set(c.live_checksums().values())
        return SinglePrimaryResult(
            commit=c.commit, replicas=c.replicas, delay_s=c.network.delay_s,
            read_policy=self.s.read_policy, read_share=self.s.read_share, writes=writes,
            acknowledged=len(self.acked), unavailable=self.unavailable,
            mean_commit_s=float(commit_s.mean()) if commit_s.size else 0.0,
            max_commit_s=float(commit_s.max()) if commit_s.size else 0.0,
            mean_lag=float(lag.mean()) if lag.size else 0.0,
            max_lag=int(lag.max()) if lag.size else 0,
            reads=self.reads, replica_reads=self.replica_reads, stale_reads=self.stale,
            stale_read_rate=self.stale / self.reads if self.reads else 0.0,
            mean_read_wait_s=float(np.mean(self.waits)) if self.waits else 0.0,
            lost_writes=lost, refused_writes=self.refused, divergent_writes=self.divergent,
            converged=len(sums) == 1,
            lag_at=np.array(self.lag_at), lag=lag, commit_s=commit_s, settings=self.s)
