"""Multi-primary replication on real SQLite: colliding keys and conflicting updates.

The real mechanism. With several primaries every node accepts writes, and the nodes swap
them later (after a partition heals, or simply because replication lags). Two things go
wrong, and both are shown here on real SQLite databases (``sqlite3.connect(":memory:")``):

* **Keys collide.** Each primary hands out ``INTEGER PRIMARY KEY AUTOINCREMENT`` ids 1, 2,
  3 ... on its own, so merging one node's ``orders`` into another raises SQLite's real
  ``IntegrityError: UNIQUE constraint failed: orders.id``. Fixes: MySQL's
  ``auto_increment_increment`` / ``auto_increment_offset`` and random UUIDs. That half lives
  in :mod:`scalekit.replication.keys`, re-exported here.
* **Updates conflict.** Two primaries change the same row concurrently. A resolution rule
  decides, and every rule but one throws updates away:

  - :class:`LastWriterWins` (Cassandra): the higher write timestamp wins; on a tie the greater
    value wins. Concurrent writes other than the winner are lost silently.
  - :class:`FirstCommitterWins` (MySQL Group Replication certification): transactions are
    certified in one agreed order; one whose snapshot no longer holds the row's current
    version is rolled back. The losers are aborted and their clients are told.
  - :class:`CounterMerge` (a G-Counter CRDT): each node counts its own increments; merging
    takes the element-wise maximum and the value is the sum. Nothing is lost.

:func:`collide_keys` runs the key story; :func:`simulate_conflicts` runs one schedule of
concurrent ``+1`` updates through every rule and counts what each discards. Simulated time
only: a timestamp is a tick of the simulated clock, never the wall clock.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from scalekit import _check, _html
from scalekit.replication.databases import all_or_nothing, checksum
from scalekit.replication.keys import (
    KEY_SCHEMES,
    MAX_PRIMARIES,
    MAX_ROWS,
    AutoIncrement,
    IncrementOffset,
    KeyCollisionError,
    KeyMergeResult,
    Primary,
    UuidKeys,
    collide_keys,
    exchange_orders,
    key_scheme,
)

__all__ = [
    "KEY_SCHEMES",
    "MAX_PRIMARIES",
    "MAX_ROWS",
    "MAX_UPDATES",
    "RULES",
    "AutoIncrement",
    "Certification",
    "ConflictResult",
    "CounterMerge",
    "FirstCommitterWins",
    "IncrementOffset",
    "KeyCollisionError",
    "KeyMergeResult",
    "LastWriterWins",
    "Primary",
    "Transaction",
    "UuidKeys",
    "Write",
    "checksum",
    "collide_keys",
    "exchange_orders",
    "key_scheme",
    "rule",
    "simulate_conflicts",
]

RULES = ("lww", "fcw", "counter")
#: Most updates one :func:`simulate_conflicts` run applies (each is a real SQLite
#: transaction — per rule — so 100,000 take seconds, not minutes).
MAX_UPDATES = 100_000


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Write:
    """One version of a row under last-writer-wins: its ``value`` (any int), the simulated
    clock tick it was written at (``written_at`` >= 0, Cassandra's write timestamp) and the
    ``node`` (>= 0)."""

    value: int
    written_at: int
    node: int = 0

    def __post_init__(self) -> None:
        _check.integer("value", self.value)
        _check.integer("written_at", self.written_at, low=0)
        _check.integer("node", self.node, low=0, high=MAX_PRIMARIES - 1)


class LastWriterWins:
    """Cassandra's reconciliation: the write with the higher timestamp wins.

    Ties on the timestamp go to the greater value (Cassandra compares the cell values; a
    tombstone would beat a live cell, but rows here are never deleted), then to the higher
    node number, so the rule is a total order: commutative, associative and idempotent.
    Every concurrent write but the winner is discarded, silently.
    """

    def resolve(self, a: Write, b: Write) -> Write:
        """The winner of two versions ``a`` and ``b`` (the same whichever comes first)."""
        _check.instance("a", a, Write), _check.instance("b", b, Write)
        return a if (a.written_at, a.value, a.node) >= (b.written_at, b.value, b.node) else b


@dataclass(frozen=True)
class Transaction:
    """A transaction that set a row to ``value``. ``read_version`` is the row version its
    snapshot saw (the id of the last write it read); ``txn_id`` becomes the row's version
    if it commits."""

    txn_id: str
    node: int
    read_version: str
    value: int
    written_at: int = 0

    def __post_init__(self) -> None:
        _check.text("txn_id", self.txn_id, max_len=100)
        _check.integer("node", self.node, low=0, high=MAX_PRIMARIES - 1)
        _check.text("read_version", self.read_version, max_len=100)
        _check.integer("value", self.value)
        _check.integer("written_at", self.written_at, low=0)


@dataclass(frozen=True)
class Certification:
    """The outcome of certifying transactions in delivery order."""

    committed: tuple[str, ...]
    aborted: tuple[str, ...]
    version: str  # the row's version afterwards
    value: int | None  # the value the last committed transaction wrote (None: no commit)


class FirstCommitterWins:
    """MySQL Group Replication's certification: first committer wins.

    Every member receives transactions in the same (Paxos-agreed) order and certifies each
    against the row's current version: a transaction whose snapshot is older than the
    current version — another transaction committed the row since it read — is rolled back
    on every member. (Group Replication compares GTID sets; on one row with a linear history
    that is "did it read the current version".) The losers are aborted and told so.
    """

    def certifies(self, txn: Transaction, row_version: str) -> bool:
        """Whether ``txn`` may commit on a row now at ``row_version``."""
        _check.instance("txn", txn, Transaction)
        _check.text("row_version", row_version, max_len=100)
        return txn.read_version == row_version

    def certify(self, txns: Iterable[Transaction], row_version: str) -> Certification:
        """Certify ``txns`` (Transactions, in delivery order) against a row at
        ``row_version``."""
        if isinstance(txns, str | Mapping) or not isinstance(txns, Iterable):
            raise TypeError(f"txns must be a list of Transaction, got {type(txns).__name__}")
        txns = [_check.instance(f"txns[{i}]", t, Transaction) for i, t in enumerate(txns)]
        _check.text("row_version", row_version, max_len=100)
        committed, aborted, value = [], [], None
        for txn in txns:
            if self.certifies(txn, row_version):
                committed.append(txn.txn_id)
                row_version, value = txn.txn_id, txn.value
            else:
                aborted.append(txn.txn_id)
        return Certification(tuple(committed), tuple(aborted), row_version, value)


class CounterMerge:
    """A G-Counter CRDT: one count per node, each node incrementing only its own.

    Merge is the element-wise maximum (commutative, associative, idempotent) and the value
    is the sum, so every increment from every node survives. (A PN-counter is two of these,
    one for increments and one for decrements.)
    """

    def resolve(self, a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
        """Merge two states ``a`` and ``b`` (one count per node each): element-wise max."""
        a, b = _counts("a", a), _counts("b", b)
        if len(a) != len(b):
            raise ValueError(f"a and b must hold one count per node each, got {len(a)} and "
                             f"{len(b)} counts")
        return tuple(max(x, y) for x, y in zip(a, b, strict=True))

    @staticmethod
    def value(counts: Sequence[int]) -> int:
        """The counter's value: the sum of the per-node ``counts``."""
        return sum(_counts("counts", counts))


def _counts(name: str, counts) -> tuple[int, ...]:
    """A G-Counter state: one count >= 0 per node, 1 to :data:`MAX_PRIMARIES` nodes."""
    if isinstance(counts, str) or not isinstance(counts, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a sequence of counts (one int per node), "
                        f"got {type(counts).__name__}")
    if not 1 <= len(counts) <= MAX_PRIMARIES:
        raise ValueError(f"{name} must hold 1 to {MAX_PRIMARIES} counts (one per node), "
                         f"got {len(counts)}")
    return tuple(_check.integer(f"{name}[{i}]", c, low=0) for i, c in enumerate(counts))


def rule(name: str) -> LastWriterWins | FirstCommitterWins | CounterMerge:
    """The resolution rule called ``name``: ``"lww"``, ``"fcw"`` or ``"counter"``."""
    _check.choice("rule name", name, RULES)
    return {"lww": LastWriterWins, "fcw": FirstCommitterWins, "counter": CounterMerge}[name]()


# --------------------------------------------------------------------------- simulation


@dataclass(frozen=True, eq=False, repr=False)
class ConflictResult(_html.ScalarTable):
    """One schedule of concurrent ``+1`` updates to one row, resolved by each rule.

    ``final_value`` and ``discarded`` map rule name to the row's final value and to the
    updates the rule threw away (``true_total - final_value``: silent losses for ``lww``,
    aborted transactions for ``fcw``). ``checksums`` maps rule name to each node's checksum.
    """

    n_nodes: int
    updates: int
    window: int
    seed: int | None
    true_total: int
    identical_nodes: bool
    final_value: Mapping[str, int] = field(repr=False)
    discarded: Mapping[str, int] = field(repr=False)
    checksums: Mapping[str, tuple[str, ...]] = field(repr=False)

    def _repr_html_(self) -> str:
        rows = [{"rule": name, "final value": self.final_value[name],
                 "true total": self.true_total, "discarded": self.discarded[name],
                 "identical nodes": len(set(self.checksums[name])) == 1}
                for name in self.final_value]
        return _html.rows_table(rows, note=f"{self.n_nodes} nodes, {self.updates} updates, "
                                           f"{self.window} per partition window")


def simulate_conflicts(n_nodes: int = 3, updates: int = 60, window: int = 10,
                       seed: int | None = 0, rules: Sequence[str] = RULES) -> ConflictResult:
    """Apply ``updates`` increments (+1 each) of one counter row, each on a random node of
    ``n_nodes``, and resolve them with every rule in ``rules``.

    The nodes are partitioned for ``window`` consecutive updates at a time (the updates in
    one window are concurrent: no node sees another's); at the end of each window they swap
    state and resolve it with the rule, so every node holds identical contents. Each update
    gets a timestamp (simulated clock tick) drawn at random, non-decreasing, ties possible.
    ``window=1`` means no concurrency at all, and no rule discards anything.
    """
    n = _check.integer("n_nodes", n_nodes, low=1, high=MAX_PRIMARIES)
    count = _check.integer("updates", updates, low=0, high=MAX_UPDATES)
    size = _check.integer("window", window, low=1, high=MAX_UPDATES)
    seed = _check.seed(seed)
    if isinstance(rules, str) or not isinstance(rules, Sequence):
        raise TypeError(f"rules must be a sequence of rule names, got {rules!r}")
    if not rules:
        raise ValueError(f"rules must name at least one of {', '.join(map(repr, RULES))}, "
                         f"got none")
    for name in rules:
        _check.choice("rules", name, RULES)
    rng = np.random.default_rng(seed)
    nodes = rng.integers(0, n, size=count).tolist()
    ticks = np.sort(rng.integers(1, 2 * count + 2, size=count)).tolist()
    schedule = [list(zip(range(lo, min(lo + size, count)), nodes[lo:lo + size], ticks[lo:lo + size],
                         strict=True)) for lo in range(0, count, size)]
    runners = {"lww": _run_lww, "fcw": _run_fcw, "counter": _run_counter}
    final, sums = {}, {}
    for name in dict.fromkeys(rules):
        final[name], sums[name] = runners[name](schedule, n)
    return ConflictResult(
        n_nodes=n, updates=count, window=size, seed=seed, true_total=count,
        identical_nodes=all(len(set(s)) == 1 for s in sums.values()),
        final_value=MappingProxyType(final),
        discarded=MappingProxyType({k: count - v for k, v in final.items()}),
        checksums=MappingProxyType(sums))


_ROW = ("CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL,"
        " written_at INTEGER NOT NULL, node INTEGER NOT NULL, version TEXT NOT NULL)")
_SET_ROW = "UPDATE counter SET value = ?, written_at = ?, node = ?, version = ? WHERE id = 1"
_GET_ROW = "SELECT value, written_at, node, version FROM counter WHERE id = 1"


def _row_nodes(n: int) -> list[sqlite3.Connection]:
    conns = [sqlite3.connect(":memory:", isolation_level=None) for _ in range(n)]
    for conn in conns:
        conn.execute(_ROW)
        conn.execute("INSERT INTO counter VALUES (1, 0, 0, 0, 'v0')")
    return conns


def _run_lww(schedule: list, n: int) -> tuple[int, tuple[str, ...]]:
    lww, conns = LastWriterWins(), _row_nodes(n)
    for window in schedule:
        for i, node, tick in window:  # each node writes its own copy, unseen by the others
            with all_or_nothing([conns[node]]):
                conns[node].execute("UPDATE counter SET value = value + 1, written_at = ?, "
                                    "node = ?, version = ? WHERE id = 1", (tick, node, f"t{i}"))
        rows = [c.execute(_GET_ROW).fetchone() for c in conns]
        winner = functools.reduce(lww.resolve, [Write(*row[:3]) for row in rows])
        row = next(r for r in rows if Write(*r[:3]) == winner)
        _set_everywhere(conns, _SET_ROW, row)
    return _finish(conns, "SELECT value FROM counter")


def _run_fcw(schedule: list, n: int) -> tuple[int, tuple[str, ...]]:
    fcw, conns = FirstCommitterWins(), _row_nodes(n)
    for window in schedule:
        txns, row = [], conns[0].execute(_GET_ROW).fetchone()
        for i, node, tick in window:  # optimistic local execution on the node's own copy
            value, _, _, version = conns[node].execute(_GET_ROW).fetchone()
            txn = Transaction(f"t{i}", node, version, value + 1, tick)
            with all_or_nothing([conns[node]]):
                conns[node].execute(_SET_ROW, (txn.value, tick, node, txn.txn_id))
            txns.append(txn)
        cert = fcw.certify(txns, row[3])  # delivery order = commit order = schedule order
        if cert.committed:
            last = next(t for t in txns if t.txn_id == cert.version)
            row = (last.value, last.written_at, last.node, last.txn_id)
        _set_everywhere(conns, _SET_ROW, row)  # losers roll back to the certified row
    return _finish(conns, "SELECT value FROM counter")


def _run_counter(schedule: list, n: int) -> tuple[int, tuple[str, ...]]:
    merge = CounterMerge()
    conns = [sqlite3.connect(":memory:", isolation_level=None) for _ in range(n)]
    for conn in conns:
        conn.execute("CREATE TABLE counter_parts (node INTEGER PRIMARY KEY, "
                     "count INTEGER NOT NULL CHECK (count >= 0))")
        conn.executemany("INSERT INTO counter_parts VALUES (?, 0)", [(k,) for k in range(n)])
    for window in schedule:
        for _, node, _ in window:  # a node increments only its own count
            with all_or_nothing([conns[node]]):
                conns[node].execute("UPDATE counter_parts SET count = count + 1 "
                                    "WHERE node = ?", (node,))
        states = [tuple(c for (c,) in conn.execute(
            "SELECT count FROM counter_parts ORDER BY node")) for conn in conns]
        merged = functools.reduce(merge.resolve, states)
        _set_everywhere(conns, "UPDATE counter_parts SET count = ? WHERE node = ?",
                        *[(c, k) for k, c in enumerate(merged)])
    return _finish(conns, "SELECT SUM(count) FROM counter_parts")


def _set_everywhere(conns: list[sqlite3.Connection], sql: str, *params: tuple) -> None:
    with all_or_nothing(conns):
        for conn in conns:
            conn.executemany(sql, params)


def _finish(conns: list[sqlite3.Connection], sql: str) -> tuple[int, tuple[str, ...]]:
    try:
        (value,) = conns[0].execute(sql).fetchone()
        return int(value), tuple(checksum(c) for c in conns)
    finally:
        for conn in conns:
            conn.close()
