"""Log shipping between real SQLite databases over a simulated network.

The real mechanism. A primary database writes every change to an ordered log (PostgreSQL's
write-ahead log, MySQL's binlog) before it acknowledges it; each change has a position (an
LSN: 1, 2, 3 ...). Replicas receive the log over a TCP stream — in order, after a network
delay — and replay it. A replica's *applied position* says how far it has replayed; the gap
to the primary's position is its replication lag.

* :class:`Clock` — simulated time: an event heap, nothing sleeps on the wall clock;
* :class:`Network` — delivers messages from node to node after ``delay_s`` plus a uniform
  jitter in ``[0, jitter_s)`` (seeded), in order per link like a TCP stream; a node that dies
  loses what was in flight to and from it (its connections break);
* :class:`Node` — one real SQLite database (in memory) with a ``kv`` table and a ``log``
  table; appending or applying a log entry is ONE transaction, so a failure leaves the node as
  it was; ``checksum()`` digests its contents, so converged replicas compare equal.

Units: seconds for every instant (``*_at``) and duration (``*_s``).
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import itertools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scalekit import _check

__all__ = ["Clock", "LogEntry", "Network", "Node", "NodeDownError", "NotPrimaryError",
           "ReplicationError"]


class ReplicationError(RuntimeError):
    """A replica database failed (the :mod:`sqlite3` error is chained as the cause)."""


class NotPrimaryError(ReplicationError):
    """A write reached a node that is not the primary (a replica, or a demoted primary)."""

    def __init__(self, message: str, node: str):
        super().__init__(message)
        self.node = node


class NodeDownError(ValueError):
    """A read or write named a node that is down."""


@dataclass(frozen=True)
class LogEntry:
    """One change in the log: ``key`` set to ``value`` at position ``lsn`` (1, 2 ...), written
    in ``term`` (the primary's epoch: 1, then 2 after the first failover) at ``written_at``."""

    term: int
    lsn: int
    key: str
    value: str
    written_at: float


class Clock:
    """Simulated time: a heap of (instant, sequence, callback); ``run`` pops them in order."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list = []
        self._seq = itertools.count()

    def at(self, instant: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` at simulated ``instant`` (s); never earlier than now."""
        heapq.heappush(self._heap, (max(instant, self.now), next(self._seq), callback))

    def run(self, until: float | None = None) -> None:
        """Process events up to ``until`` (s), or until none are left (quiescence)."""
        while self._heap and (until is None or self._heap[0][0] <= until):
            self.now, _, callback = heapq.heappop(self._heap)
            callback()
        if until is not None:
            self.now = max(self.now, until)

    @property
    def idle(self) -> bool:
        """True when no event is pending."""
        return not self._heap


class Network:
    """Messages between nodes after ``delay_s`` + U[0, ``jitter_s``) seconds, FIFO per link.

    A link keeps the instant of its last delivery, so a later message never overtakes an
    earlier one (a TCP stream). :meth:`cut` breaks every link of a node: what is in flight
    to or from it is dropped.
    """

    def __init__(self, clock: Clock, delay_s: float = 0.05, jitter_s: float = 0.0, *,
                 seed: int | None = 0) -> None:
        self.clock = clock
        self.delay_s = _check.non_negative("delay_s", delay_s)
        self.jitter_s = _check.non_negative("jitter_s", jitter_s)
        self._rng = np.random.default_rng(_check.seed(seed))
        self._last_at: dict[tuple[str, str], float] = {}
        self._epoch: dict[str, int] = {}

    def one_way_s(self) -> float:
        """Draw one transit time (s)."""
        return self.delay_s + (self._rng.uniform(0.0, self.jitter_s) if self.jitter_s else 0.0)

    def send(self, src: str, dst: str, deliver: Callable[[], None]) -> float:
        """Deliver ``deliver()`` at ``dst`` later, in order on the link; returns the instant."""
        link = (src, dst)
        at = max(self.clock.now + self.one_way_s(), self._last_at.get(link, 0.0))
        self._last_at[link] = at
        stamp = (self._epoch.get(src, 0), self._epoch.get(dst, 0))

        def arrive() -> None:
            if (self._epoch.get(src, 0), self._epoch.get(dst, 0)) == stamp:
                deliver()

        self.clock.at(at, arrive)
        return at

    def cut(self, node: str) -> None:
        """Break every link of ``node``: messages in flight to or from it are lost."""
        self._epoch[node] = self._epoch.get(node, 0) + 1


_SCHEMA = """
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, lsn INTEGER NOT NULL);
CREATE TABLE log (lsn INTEGER PRIMARY KEY, term INTEGER NOT NULL, key TEXT NOT NULL,
                  value TEXT NOT NULL, written_at REAL NOT NULL);
"""


class Node:
    """One database server: a real (in-memory) SQLite database with a ``kv`` table and its
    change ``log``. ``role`` is ``"primary"`` or ``"replica"``; ``up`` is False while it is
    down. Received entries wait in ``pending`` until :meth:`apply_pending` replays them."""

    def __init__(self, name: str, role: str = "replica") -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        self.name = name
        self.role = _check.choice("role", role, ("primary", "replica"))
        self.up = True
        self.term = 1
        self.demoted = False
        self.applied_lsn = 0
        self.pending: list[LogEntry] = []
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        state = "up" if self.up else "down"
        return f"Node({self.name!r}, {self.role}, {state}, applied_lsn={self.applied_lsn})"

    # ------------------------------------------------------------------ reading
    @property
    def received_lsn(self) -> int:
        """The last position received (applied or pending)."""
        return self.pending[-1].lsn if self.pending else self.applied_lsn

    def read(self, key: str) -> tuple[str, int] | None:
        """``(value, lsn)`` of ``key`` as this node has applied it, or None if absent."""
        self._require_up()
        return self.db.execute("SELECT value, lsn FROM kv WHERE key = ?", (key,)).fetchone()

    def entries_after(self, lsn: int) -> list[LogEntry]:
        """The applied log entries after position ``lsn``, in order."""
        rows = self.db.execute("SELECT term, lsn, key, value, written_at FROM log "
                               "WHERE lsn > ? ORDER BY lsn", (lsn,))
        return [LogEntry(*row) for row in rows]

    def has_entry(self, term: int, lsn: int) -> bool:
        """True if this node's log holds position ``lsn`` written in ``term``."""
        row = self.db.execute("SELECT 1 FROM log WHERE lsn = ? AND term = ?", (lsn, term))
        return row.fetchone() is not None

    def checksum(self) -> str:
        """SHA-256 of the ``kv`` contents in key order (equal contents, equal digests)."""
        digest = hashlib.sha256()
        for key, value, lsn in self.db.execute("SELECT key, value, lsn FROM kv ORDER BY key"):
            digest.update(f"{key}\x00{value}\x00{lsn}\x01".encode())
        return digest.hexdigest()

    # ------------------------------------------------------------------ writing
    def append(self, key: str, value: str, written_at: float) -> LogEntry:
        """Write ``key = value`` as the next log position (no role check: the cluster does
        that); one transaction."""
        self._require_up()
        entry = LogEntry(self.term, self.applied_lsn + 1, str(key), str(value), written_at)
        self._apply(entry)
        return entry

    def receive(self, entry: LogEntry) -> bool:
        """Queue ``entry`` for replay unless already received; True if it was new."""
        if not self.up or entry.lsn <= self.received_lsn:
            return False
        if entry.lsn != self.received_lsn + 1:
            raise ReplicationError(f"node {self.name!r} received lsn {entry.lsn} after "
                                   f"{self.received_lsn}: the log has a gap")
        self.pending.append(entry)
        return True

    def apply_pending(self) -> list[LogEntry]:
        """Replay every received entry, each in its own transaction; returns them."""
        done = []
        while self.up and self.pending:
            self._apply(self.pending[0])
            done.append(self.pending.pop(0))
        return done

    def rewind(self, lsn: int) -> int:
        """Drop every log entry after ``lsn`` and rebuild ``kv`` from the log that is left
        (what ``pg_rewind`` does for a failed primary); one transaction. Returns how many
        entries were dropped."""
        self.pending.clear()
        with self._transaction(f"rewinding to lsn {lsn}"):
            dropped = self.db.execute("DELETE FROM log WHERE lsn > ?", (lsn,)).rowcount
            self.db.execute("DELETE FROM kv")
            self.db.execute("INSERT INTO kv (key, value, lsn) SELECT key, value, lsn FROM log "
                            "WHERE lsn IN (SELECT MAX(lsn) FROM log GROUP BY key)")
        self.applied_lsn = min(self.applied_lsn, lsn)
        return dropped

    def _apply(self, entry: LogEntry) -> None:
        with self._transaction(f"applying lsn {entry.lsn}"):
            self.db.execute("INSERT INTO log (lsn, term, key, value, written_at) "
                            "VALUES (?, ?, ?, ?, ?)", (entry.lsn, entry.term, entry.key,
                                                       entry.value, entry.written_at))
            self.db.execute("INSERT INTO kv (key, value, lsn) VALUES (?, ?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                            "lsn = excluded.lsn", (entry.key, entry.value, entry.lsn))
        self.applied_lsn = entry.lsn

    @contextlib.contextmanager
    def _transaction(self, what: str):
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ReplicationError(f"{what} on node {self.name!r} failed: {exc}") from exc

    def _require_up(self) -> None:
        if not self.up:
            raise NodeDownError(f"node {self.name!r} is down; read from a node that is up")
