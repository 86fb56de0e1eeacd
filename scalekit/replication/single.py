"""Single-primary replication: commit modes, lag, read-your-writes, failover and fencing.

The real mechanism. One primary takes every write and ships its log to ``k`` replicas
(PostgreSQL streaming replication, MySQL source/replica). When it acknowledges a commit
depends on the commit mode, after PostgreSQL's ``synchronous_commit``:

* ``"async"`` (``local``) — at once; a replica may not have the change yet;
* ``"remote_write"`` — once one replica has *received* it (its reply back at the primary);
* ``"remote_apply"`` — once one replica has *applied* it (a read there would see it).

Replicas lag: a client that writes, then reads a replica ``think_s`` later, may miss its own
write (a read-your-writes violation). Two fixes: read from the primary after a write, or wait
until the replica has applied the client's write position (PostgreSQL's
``pg_last_wal_replay_lsn``, MySQL's ``WAIT_FOR_EXECUTED_GTID_SET``).

Failover: at ``fail_at`` the primary dies; after ``failover_s`` the replica that received the
most is promoted (term 2). Acknowledged writes it never received are LOST — possible in
``async``, impossible in the sync modes. The old primary comes back ``down_s`` later; with
``fencing`` it learns the new term, refuses writes, rewinds and follows the new primary.
Without fencing it still believes it is primary and accepts writes from clients that did not
hear of the failover: split brain, counted as divergent writes.

Every node is a real SQLite database (:class:`~scalekit.replication.log.Node`); time is
simulated (:class:`~scalekit.replication.log.Clock`). Units: seconds, writes per second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html
from scalekit.replication.log import Clock, LogEntry, Network, Node, NotPrimaryError

__all__ = ["COMMIT_MODES", "READ_POLICIES", "SinglePrimary", "SinglePrimaryResult",
           "compare_commit_modes", "run_single_primary"]

COMMIT_MODES = ("async", "remote_write", "remote_apply")
READ_POLICIES = ("any", "primary_after_write", "wait_for_position")


class SinglePrimary:
    """One primary (``n0``) and ``replicas`` replicas (``n1`` ...) on one simulated network.

    ``commit`` is one of :data:`COMMIT_MODES`; ``delay_s`` and ``jitter_s`` (s) the one-way
    network delay and its uniform jitter; ``apply_s`` (s) how long a replica takes to replay a
    received entry; ``fencing`` whether a returning old primary is refused writes.
    """

    def __init__(self, replicas: int = 2, *, commit: str = "async", delay_s: float = 0.05,
                 jitter_s: float = 0.01, apply_s: float = 0.005, fencing: bool = True,
                 seed: int | None = 0) -> None:
        self.replicas = _check.integer("replicas", replicas, low=1, high=100)
        self.commit = _check.choice("commit", commit, COMMIT_MODES)
        self.apply_s = _check.non_negative("apply_s", apply_s)
        self.fencing = _check.boolean("fencing", fencing)
        self.clock = Clock()
        self.network = Network(self.clock, delay_s, jitter_s, seed=seed)
        self.nodes = [Node("n0", "primary")] + [Node(f"n{i}") for i in range(1, replicas + 1)]
        self.primary: Node | None = self.nodes[0]
        self.term = 1
        self.fork_lsn: int | None = None
        self._waiting: dict[tuple[int, int], tuple] = {}
        self._on_apply: list[Callable[[Node], None]] = []

    # ------------------------------------------------------------------ lookup
    def node(self, name: str) -> Node:
        """The node called ``name``."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise ValueError(f"node must be one of {[n.name for n in self.nodes]}, got {name!r}")

    def followers(self) -> list[Node]:
        """The nodes that replicate from the current primary."""
        return [n for n in self.nodes if n is not self.primary and n.role == "replica"]

    # ------------------------------------------------------------------ writes
    def write(self, key: str, value: str, *, node: str | None = None,
              on_ack: Callable[[LogEntry, float], None] | None = None) -> LogEntry:
        """Write ``key = value`` on ``node`` (default: the primary). Ships the entry to the
        followers; ``on_ack(entry, at)`` runs when the commit mode acknowledges it. Raises
        :class:`NotPrimaryError` on a replica or a fenced (demoted) old primary."""
        target = self.primary if node is None else self.node(node)
        if target is None:
            raise NotPrimaryError("no primary: failover in progress; retry later", "")
        if target.role != "primary":
            raise NotPrimaryError(self._refusal(target), target.name)
        entry = target.append(key, value, self.clock.now)
        if target is not self.primary:  # split brain: an unfenced old primary
            return entry
        self._waiting[(entry.term, entry.lsn)] = (entry, on_ack or (lambda e, at: None))
        if self.commit == "async":
            self._ack(entry.term, entry.lsn)
        for f in self.followers():
            self._ship(target, f, entry)
        return entry

    def _refusal(self, node: Node) -> str:
        who = "a demoted primary" if node.demoted else "a replica"
        primary = self.primary.name if self.primary else "none (failover in progress)"
        return (f"node {node.name!r} is {who} (term {node.term}) and refuses writes; "
                f"write to the primary {primary!r}")

    def _ship(self, src: Node, dst: Node, entry: LogEntry) -> None:
        self.network.send(src.name, dst.name, lambda: self._receive(dst, entry))

    def _receive(self, node: Node, entry: LogEntry) -> None:
        if not node.receive(entry):
            return
        if self.commit == "remote_write":
            self._reply(node, entry)
        self.clock.at(self.clock.now + self.apply_s, lambda: self._apply(node))

    def _apply(self, node: Node) -> None:
        for entry in node.apply_pending():
            if self.commit == "remote_apply":
                self._reply(node, entry)
        for hook in self._on_apply:
            hook(node)

    def _reply(self, node: Node, entry: LogEntry) -> None:
        if self.primary is not None:
            self.network.send(node.name, self.primary.name,
                              lambda: self._ack(entry.term, entry.lsn))

    def _ack(self, term: int, lsn: int) -> None:
        waiting = self._waiting.pop((term, lsn), None)
        if waiting is not None and term == self.term:
            entry, callback = waiting
            callback(entry, self.clock.now)

    # ------------------------------------------------------------------ failover
    def fail(self, name: str) -> None:
        """Node ``name`` dies: its connections break; if it was the primary, nobody is."""
        n = self.node(name)
        n.up = False
        self.network.cut(n.name)
        if n is self.primary:
            self.primary = None
            self._waiting.clear()  # its clients never hear back

    def promote(self) -> Node:
        """Promote the live replica that received the most: it replays what it received,
        starts term ``term + 1`` and ships the rest of its log to the other replicas."""
        if self.primary is not None and self.primary.up:
            raise RuntimeError(f"{self.primary.name} is a live primary: fail it before "
                               f"promoting another (two primaries would split the cluster)")
        live = [n for n in self.nodes if n.up and n.role == "replica"]
        if not live:
            raise RuntimeError("no live replica to promote")
        best = max(live, key=lambda n: (n.received_lsn, -self.nodes.index(n)))
        best.apply_pending()
        self.term += 1
        best.role, best.term = "primary", self.term
        self.primary = best
        self.fork_lsn = best.applied_lsn
        for f in self.followers():
            if f.up:
                self._catch_up(f)
        return best

    def recover(self, name: str) -> None:
        """Node ``name`` comes back. A fenced old primary learns the current term, is demoted,
        rewinds past the fork and follows; an unfenced one still thinks it is primary."""
        n = self.node(name)
        n.up = True
        if n.role == "primary" and n is not self.primary:
            if not self.fencing:
                return
            n.role, n.demoted, n.term = "replica", True, self.term
            n.rewind(min(n.applied_lsn, self.fork_lsn or 0))
        if n.role == "replica" and self.primary is not None:
            n.apply_pending()  # what it received before it went down
            self._rewind_to_primary(n)
            self._catch_up(n)

    def _rewind_to_primary(self, n: Node) -> None:
        """Drop the entries of ``n``'s log that the current primary's log does not hold —
        written in a term the cluster has moved past while ``n`` was down — as pg_rewind
        does, so that catching up starts from the last position both agree on."""
        for entry in n.entries_after(0):
            if not self.primary.has_entry(entry.term, entry.lsn):
                n.rewind(entry.lsn - 1)
                return

    def _catch_up(self, follower: Node) -> None:
        for entry in self.primary.entries_after(follower.received_lsn):
            self._ship(self.primary, follower, entry)

    def quiesce(self) -> None:
        """Run the clock until the network is idle (everything delivered and applied)."""
        self.clock.run()

    def live_checksums(self) -> dict[str, str]:
        """Checksums of the nodes that are up."""
        return {n.name: n.checksum() for n in self.nodes if n.up}


#: Most writes one run may simulate (each is a real SQLite transaction on every node).
MAX_WRITES = 200_000


@dataclass(frozen=True, eq=False, repr=False)
class SinglePrimaryResult(_html.ScalarTable):
    """One run of :func:`run_single_primary`.

    ``mean_commit_s``/``max_commit_s``: commit latency (s) of acknowledged writes;
    ``mean_lag``/``max_lag``: replication lag in log positions (primary position − replica
    applied position, the worst replica, sampled over time); ``stale_reads`` of
    ``replica_reads`` reads on replicas missed the client's own write (``stale_read_rate`` per
    read of any node); ``mean_read_wait_s``: extra wait of ``wait_for_position`` reads;
    ``lost_writes``: acknowledged writes missing after failover; ``refused_writes``: writes a
    fenced old primary refused; ``divergent_writes``: writes an unfenced one accepted;
    ``converged``: every live node has the same checksum after quiescence.
    Arrays: ``lag_at`` (s) and ``lag`` (positions), ``commit_s`` (s) per acknowledged write.
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


def run_single_primary(
    *,
    replicas: int = 2,
    commit: str = "async",
    delay_s: float = 0.05,
    jitter_s: float = 0.02,
    apply_s: float = 0.005,
    writes_per_s: float = 50.0,
    duration_s: float = 5.0,
    keys: int = 100,
    think_s: float = 0.05,
    read_share: float = 1.0,
    read_policy: str = "any",
    fail_at: float | None = None,
    failover_s: float = 0.2,
    down_s: float = 1.0,
    fencing: bool = True,
    stale_client_share: float = 0.3,
    seed: int | None = 0,
) -> SinglePrimaryResult:
    """Simulate clients writing to a replicated database and reading their writes back.

    Writes arrive as a Poisson stream (``writes_per_s`` /s for ``duration_s`` s) on ``keys``
    keys. ``think_s`` (s) after each acknowledgement its client reads the key back — from a
    random replica with probability ``read_share``, else from the primary; ``read_policy``
    ``"primary_after_write"`` always reads the primary, ``"wait_for_position"`` waits until
    the replica has applied the write. ``fail_at`` (s, or None): the primary dies; promotion
    ``failover_s`` later; the old primary returns ``down_s`` after that, and a share
    ``stale_client_share`` of later writes still go to it.
    """
    _check.positive("writes_per_s", writes_per_s)
    duration_s = _check.positive("duration_s", duration_s)
    if writes_per_s * duration_s > MAX_WRITES:
        raise ValueError(f"writes_per_s × duration_s = {writes_per_s * duration_s:.3g} writes, "
                         f"more than the {MAX_WRITES:,} one run allows; shorten duration_s")
    keys = _check.integer("keys", keys, low=1)
    think_s = _check.non_negative("think_s", think_s)
    read_share = _check.probability("read_share", read_share)
    read_policy = _check.choice("read_policy", read_policy, READ_POLICIES)
    failover_s = _check.non_negative("failover_s", failover_s)
    down_s = _check.non_negative("down_s", down_s)
    stale_client_share = _check.probability("stale_client_share", stale_client_share)
    if fail_at is not None:
        fail_at = _check.non_negative("fail_at", fail_at)
    seed = _check.seed(seed)
    cluster = SinglePrimary(replicas, commit=commit, delay_s=delay_s, jitter_s=jitter_s,
                            apply_s=apply_s, fencing=fencing, seed=seed)
    rng = np.random.default_rng(None if seed is None else seed + 1)
    gaps = rng.exponential(1.0 / writes_per_s, size=int(writes_per_s * duration_s * 2) + 10)
    times = np.cumsum(gaps)
    times = times[times < duration_s]
    return _Run(cluster, rng, keys, think_s, read_share, read_policy,
                stale_client_share).go(times, fail_at, failover_s, down_s, duration_s)


class _Run:
    """The bookkeeping of one :func:`run_single_primary` (the event callbacks)."""

    def __init__(self, cluster, rng, keys, think_s, read_share, read_policy, stale_share):
        self.c, self.rng, self.keys = cluster, rng, keys
        self.think_s, self.read_share, self.policy = think_s, read_share, read_policy
        self.stale_share = stale_share
        self.old_primary = cluster.nodes[0].name
        self.failed = False
        self.acked: list[tuple[LogEntry, float]] = []
        self.unavailable = self.refused = self.divergent = 0
        self.reads = self.replica_reads = self.stale = 0
        self.waits: list[float] = []
        self.parked: list[tuple[Node, LogEntry, float]] = []
        self.lag_at: list[float] = []
        self.lag: list[int] = []
        cluster._on_apply.append(self._release)

    def go(self, times, fail_at, failover_s, down_s, duration_s) -> SinglePrimaryResult:
        c = self.c
        for i, at in enumerate(times.tolist()):
            c.clock.at(at, lambda i=i: self._write(i))
        for at in np.linspace(0.0, duration_s, 201).tolist():
            c.clock.at(at, self._sample)
        if fail_at is not None and fail_at < duration_s:
            c.clock.at(fail_at, self._fail)
            c.clock.at(fail_at + failover_s, c.promote)
            c.clock.at(fail_at + failover_s + down_s, lambda: c.recover(self.old_primary))
        c.clock.run(duration_s)
        c.quiesce()
        return self._result(len(times))

    def _fail(self) -> None:
        self.failed = True
        self.c.fail(self.old_primary)

    def _write(self, i: int) -> None:
        c = self.c
        key, value = f"k{int(self.rng.integers(self.keys))}", f"w{i}"
        old = c.node(self.old_primary)
        stale_client = self.failed and self.rng.random() < self.stale_share
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
        self.c.clock.at(at + self.think_s, lambda: self._read(entry))

    def _read(self, entry: LogEntry) -> None:
        c = self.c
        if c.primary is None:
            return
        live = [n for n in c.followers() if n.up]
        target = c.primary
        if self.policy != "primary_after_write" and live and self.rng.random() < self.read_share:
            target = live[int(self.rng.integers(len(live)))]
        if self.policy == "wait_for_position" and target.applied_lsn < entry.lsn:
            self.parked.append((target, entry, c.clock.now))
            return
        self._check_read(target, entry, 0.0)

    def _check_read(self, node: Node, entry: LogEntry, wait_s: float) -> None:
        self.reads += 1
        self.replica_reads += node is not self.c.primary
        if self.policy == "wait_for_position":
            self.waits.append(wait_s)
        row = node.read(entry.key)
        if row is None or row[1] < entry.lsn:
            self.stale += 1

    def _release(self, node: Node) -> None:
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
            read_policy=self.policy, read_share=self.read_share, writes=writes,
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
            lag_at=np.array(self.lag_at), lag=lag, commit_s=commit_s)


def compare_commit_modes(**kwargs) -> list[SinglePrimaryResult]:
    """:func:`run_single_primary` once per commit mode, same seed and workload."""
    kwargs.pop("commit", None)
    return [run_single_primary(commit=mode, **kwargs) for mode in COMMIT_MODES]
