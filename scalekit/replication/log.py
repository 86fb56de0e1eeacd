"""Log shipping between real SQLite databases over a simulated network.

The real mechanism. A primary database writes every change to an ordered log (PostgreSQL's
write-ahead log, MySQL's binlog) before it acknowledges it; each change has a position (an
LSN: 1, 2, 3 ...). Replicas receive the log over a TCP stream — in order, after a network
delay — and replay it. A replica's *applied position* says how far it has replayed; the gap
to the primary's position is its replication lag.

* :class:`Clock` — simulated time: an event heap, nothing sleeps on the wall clock;
* :class:`Network` — delivers messages from node to node after ``delay_s`` plus a uniform
  jitter in ``[0, jitter_s)`` (seeded), in order per link like a TCP stream; a node that dies
  loses what was in flight to and from it (its connections break), and a message sent to a
  node that is down is lost — it is not delivered when the node comes back;
* :class:`Node` — one real SQLite database (in memory) with a ``kv`` table and a ``log``
  table; appending or applying a log entry is ONE transaction, so a failure leaves the node as
  it was; ``checksum()`` digests its contents, so converged replicas compare equal. A replica
  takes only the next position: a duplicate, or an entry after a gap (its predecessor was lost
  on a broken connection), is dropped, and the cluster asks the primary to stream again from
  the replica's position — what PostgreSQL's walreceiver does when it reconnects
  (``START_REPLICATION`` at its flush position).

Units: seconds for every instant (``*_at``) and duration (``*_s``).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scalekit import _check, _seeds
from scalekit._sqlite import transaction
from scalekit.errors import DatabaseError, ScalekitError

__all__ = ["Clock", "LogEntry", "Network", "Node", "NodeDownError", "NotPrimaryError",
           "ReplicationError", "MAX_NAME", "MAX_TEXT", "MAX_TIME_S"]


#: Longest simulated delay or span a model takes (s; about 32 years): far beyond any real
#: network or outage, and small enough that sums of a few never overflow to infinity.
MAX_TIME_S = 1e9


class ReplicationError(DatabaseError):
    """A replica database failed (the :mod:`sqlite3` error is chained as the cause)."""


class NotPrimaryError(ReplicationError):
    """A write reached a node that is not the primary (a replica, or a demoted primary)."""

    def __init__(self, message: str, node: str):
        super().__init__(message)
        self.node = node


class NodeDownError(ScalekitError, ValueError):
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
        """Run ``callback`` at simulated ``instant`` (s); never earlier than now (an instant
        in the past runs at once, after what is already due)."""
        instant = _check.number("instant", instant)
        _check.function("callback", callback)
        heapq.heappush(self._heap, (max(instant, self.now), next(self._seq), callback))

    def run(self, until: float | None = None) -> None:
        """Process events up to ``until`` (s), or until none are left (quiescence)."""
        until = _check.optional(_check.number, "until", until, meaning="until no event is left")
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
    earlier one (a TCP stream). Two ways to lose messages, as on a real network:

    * :meth:`cut` breaks every connection of a node (a reset, a switch that reboots): what is
      in flight to or from it is dropped; later messages travel on new connections, and the
      callbacks registered with :meth:`on_cut` hear of it (the endpoints see the reset);
    * :meth:`take_down` — the node is down: it is cut, and nothing is sent to or from it until
      :meth:`bring_up` — a message for a down node is lost, not delivered when it returns.

    ``seed`` is an int, None, or a :class:`numpy.random.Generator` (a stream derived with
    :func:`scalekit._seeds.streams`); it draws the jitter.
    """

    def __init__(self, clock: Clock, delay_s: float = 0.05, jitter_s: float = 0.0, *,
                 seed: int | None | np.random.Generator = 0) -> None:
        self.clock = _check.instance("clock", clock, Clock)
        self.delay_s = _check.number("delay_s", delay_s, low=0.0, high=MAX_TIME_S)
        self.jitter_s = _check.number("jitter_s", jitter_s, low=0.0, high=MAX_TIME_S)
        self._rng = _seeds.generator(seed)
        self._last_at: dict[tuple[str, str], float] = {}
        self._epoch: dict[str, int] = {}
        self._down: set[str] = set()
        self._cut_listeners: list[Callable[[str], None]] = []

    def one_way_s(self) -> float:
        """Draw one transit time (s)."""
        return self.delay_s + (self._rng.uniform(0.0, self.jitter_s) if self.jitter_s else 0.0)

    def reachable(self, node: str) -> bool:
        """False while ``node`` is down (:meth:`take_down` … :meth:`bring_up`)."""
        return _check.text("node", node) not in self._down

    def link(self, src: str, dst: str) -> tuple[int, int]:
        """Which connection between ``src`` and ``dst`` is current: it changes each time
        either end is cut, so a receiver can tell a new stream from the old one."""
        return self._epoch.get(_check.text("src", src), 0), self._epoch.get(
            _check.text("dst", dst), 0)

    def send(self, src: str, dst: str, deliver: Callable[[], None]) -> float | None:
        """Deliver ``deliver()`` at ``dst`` later, in order on the link; returns the instant,
        or None when either end is down (the message is lost at once)."""
        _check.text("src", src), _check.text("dst", dst), _check.function("deliver", deliver)
        if src in self._down or dst in self._down:
            return None
        link = (src, dst)
        at = max(self.clock.now + self.one_way_s(), self._last_at.get(link, 0.0))
        self._last_at[link] = at
        stamp = self.link(src, dst)

        def arrive() -> None:
            if self.link(src, dst) == stamp:
                deliver()

        self.clock.at(at, arrive)
        return at

    def cut(self, node: str) -> None:
        """Break every connection of ``node``: messages in flight to or from it are lost;
        then every :meth:`on_cut` callback is called with ``node``."""
        _check.text("node", node)
        self._epoch[node] = self._epoch.get(node, 0) + 1
        for callback in self._cut_listeners:
            callback(node)

    def on_cut(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(node)`` after each :meth:`cut` (and :meth:`take_down`)."""
        self._cut_listeners.append(_check.function("callback", callback))

    def take_down(self, node: str) -> None:
        """``node`` is down: cut, and unreachable until :meth:`bring_up`."""
        self.cut(node)
        self._down.add(node)

    def bring_up(self, node: str) -> None:
        """``node`` is up again; messages sent from now on reach it."""
        self._down.discard(_check.text("node", node))


_SCHEMA = """
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, lsn INTEGER NOT NULL);
CREATE TABLE log (lsn INTEGER PRIMARY KEY, term INTEGER NOT NULL, key TEXT NOT NULL,
                  value TEXT NOT NULL, written_at REAL NOT NULL);
"""


#: Longest node name, and longest key or value a log entry holds (characters).
MAX_NAME, MAX_TEXT = 100, 100_000
ROLES = ("primary", "replica")


def _position(**given: int) -> None:
    """A log position or a term: an int >= 0 (what SQLite's INTEGER column can hold)."""
    for name, value in given.items():
        _check.integer(name, value, low=0, high=2**63 - 1)


class Node:
    """One database server: a real (in-memory) SQLite database with a ``kv`` table and its
    change ``log``. ``role`` is ``"primary"`` or ``"replica"``; ``up`` is False while it is
    down. Received entries wait in ``pending`` until :meth:`apply_pending` replays them."""

    def __init__(self, name: str, role: str = "replica") -> None:
        self.name = _check.text("name", name, max_len=MAX_NAME)
        self.role = _check.choice("role", role, ROLES)
        self.up = True
        self.term = 1
        self.demoted = False
        self.applied_lsn = 0
        self.applied_term = 0
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

    @property
    def received_term(self) -> int:
        """The term of the last entry received (0 for an empty log): with
        :attr:`received_lsn`, how far this node's log goes — a later term beats a longer log
        when the cluster picks whom to promote."""
        return self.pending[-1].term if self.pending else self.applied_term

    def holds(self, term: int, lsn: int) -> bool:
        """True if this node has received position ``lsn`` written in ``term`` (applied, or
        waiting to be applied)."""
        _position(term=term, lsn=lsn)
        return self.has_entry(term, lsn) or any(e.term == term and e.lsn == lsn
                                                for e in self.pending)

    def read(self, key: str) -> tuple[str, int] | None:
        """``(value, lsn)`` of ``key`` as this node has applied it, or None if absent."""
        _check.text("key", key, min_len=0, max_len=MAX_TEXT)
        self._require_up()
        return self.db.execute("SELECT value, lsn FROM kv WHERE key = ?", (key,)).fetchone()

    def entries_after(self, lsn: int) -> list[LogEntry]:
        """The applied log entries after position ``lsn``, in order."""
        _position(lsn=lsn)
        rows = self.db.execute("SELECT term, lsn, key, value, written_at FROM log "
                               "WHERE lsn > ? ORDER BY lsn", (lsn,))
        return [LogEntry(*row) for row in rows]

    def has_entry(self, term: int, lsn: int) -> bool:
        """True if this node's log holds position ``lsn`` written in ``term``."""
        _position(term=term, lsn=lsn)
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
        that); one transaction. ``key`` and ``value`` are strings of at most
        :data:`MAX_TEXT` characters; ``written_at`` (s) a finite instant >= 0."""
        key = _check.text("key", key, min_len=0, max_len=MAX_TEXT)
        value = _check.text("value", value, min_len=0, max_len=MAX_TEXT)
        written_at = _check.non_negative("written_at", written_at)
        self._require_up()
        entry = LogEntry(self.term, self.applied_lsn + 1, key, value, written_at)
        self._apply(entry)
        return entry

    def receive(self, entry: LogEntry) -> bool:
        """Queue ``entry`` for replay if it is the next position; True if it was queued.

        Dropped (False): anything while the node is down, a duplicate (at or before
        :attr:`received_lsn`), and an entry after a gap (beyond ``received_lsn + 1``: its
        predecessor was lost). After a gap the caller asks for the log again from
        ``received_lsn`` (see :meth:`gap`)."""
        _check.instance("entry", entry, LogEntry)
        if not self.up or entry.lsn != self.received_lsn + 1:
            return False
        self.pending.append(entry)
        return True

    def gap(self, entry: LogEntry) -> bool:
        """True if ``entry`` lies beyond the next position: something before it was lost."""
        _check.instance("entry", entry, LogEntry)
        return entry.lsn > self.received_lsn + 1

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
        _position(lsn=lsn)
        with self._transaction(f"rewinding to lsn {lsn}"):
            dropped = self.db.execute("DELETE FROM log WHERE lsn > ?", (lsn,)).rowcount
            self.db.execute("DELETE FROM kv")
            self.db.execute("INSERT INTO kv (key, value, lsn) SELECT key, value, lsn FROM log "
                            "WHERE lsn IN (SELECT MAX(lsn) FROM log GROUP BY key)")
            last = self.db.execute("SELECT lsn, term FROM log ORDER BY lsn DESC LIMIT 1")
            last = last.fetchone() or (0, 0)
        self.pending.clear()
        self.applied_lsn, self.applied_term = last
        return dropped

    def last_common_lsn(self, other: Node) -> int:
        """The last position at which this node's log and ``other``'s hold the same entry.

        An entry is named by (term, lsn): one primary per term writes each position once, so
        two logs that share an entry share everything before it (Raft's log matching
        property) and the shared part is a prefix — found by bisection, ~log2(n) lookups."""
        _check.instance("other", other, Node)
        rows = self.db.execute("SELECT lsn, term FROM log ORDER BY lsn").fetchall()
        low, high = 0, len(rows)  # rows[:low] are shared, rows[high:] are not
        while low < high:
            mid = (low + high) // 2
            if other.has_entry(rows[mid][1], rows[mid][0]):
                low = mid + 1
            else:
                high = mid
        return rows[low - 1][0] if low else 0

    def _apply(self, entry: LogEntry) -> None:
        with self._transaction(f"applying lsn {entry.lsn}"):
            self.db.execute("INSERT INTO log (lsn, term, key, value, written_at) "
                            "VALUES (?, ?, ?, ?, ?)", (entry.lsn, entry.term, entry.key,
                                                       entry.value, entry.written_at))
            self.db.execute("INSERT INTO kv (key, value, lsn) VALUES (?, ?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                            "lsn = excluded.lsn", (entry.key, entry.value, entry.lsn))
        self.applied_lsn, self.applied_term = entry.lsn, entry.term

    def _transaction(self, what: str):
        return transaction(self.db, f"{what} on node {self.name!r}", error=ReplicationError)

    def _require_up(self) -> None:
        if not self.up:
            raise NodeDownError(f"node {self.name!r} is down; read from a node that is up")
